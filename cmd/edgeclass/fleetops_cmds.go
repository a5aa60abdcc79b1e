package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/edgeclass/edgeclass/control"
	"github.com/edgeclass/edgeclass/internal/progress"
	"github.com/edgeclass/edgeclass/mqtt"
)

func init() {
	register("devices", "list devices from their retained status and telemetry", runDevices)
	register("push", "push a signed model package to devices (with a canary share first)", runPush)
	register("rollback", "make devices go back to their previous model", runRollback)
	register("config", "get or set a device's run-time settings: config get|set --device ID [key=value ...]", runConfig)
}

func dial(conn func() mqtt.ConnConfig) (*control.Client, context.Context, func(), error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cl, err := control.Dial(dctx, conn())
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return cl, ctx, func() { cl.Close(); stop() }, nil
}

func runDevices(args []string) error {
	fs := newFlags("devices", "")
	conn := connFlags(fs)
	wait := fs.Duration("wait", 2*time.Second, "how long to collect statuses and telemetry")
	group := fs.String("group", "", "only devices in this group")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cl, ctx, done, err := dial(conn)
	if err != nil {
		return err
	}
	defer done()
	var list []control.Device
	for _, d := range cl.Devices(ctx, *wait) {
		if *group == "" || d.InGroup(*group) {
			list = append(list, d)
		}
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(list)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DEVICE\tSTATE\tMODEL\tVERSION\tUPTIME\tFPS\tLAST SEEN\tGROUPS")
	for _, d := range list {
		seen := "-"
		if !d.LastSeen.IsZero() {
			seen = time.Since(d.LastSeen).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\n", d.ID, d.State, dash(d.Model.Name), dash(d.Model.Version),
			d.Uptime.Round(time.Second), d.FPS, seen, strings.Join(d.Groups, ","))
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// targets resolves --device / --group into device ids.
func targets(ctx context.Context, cl *control.Client, devices, group string) ([]string, error) {
	if devices != "" {
		return strings.Split(devices, ","), nil
	}
	if group == "" {
		return nil, fmt.Errorf("need --device ID[,ID...] or --group G")
	}
	var ids []string
	for _, d := range cl.Devices(ctx, 2*time.Second) {
		if d.State == "online" && d.InGroup(group) {
			ids = append(ids, d.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no online device in group %q", group)
	}
	return ids, nil
}

func runPush(args []string) error {
	fs := newFlags("push", "PACKAGE.ecpkg")
	conn := connFlags(fs)
	device := fs.String("device", "", "device id(s), comma-separated")
	group := fs.String("group", "", "every online device of this group")
	canary := fs.String("canary", "", "share that gets the package first, e.g. 10% (the rest follow if every canary keeps it through its trial)")
	maxFailures := fs.Int("max-failures", 0, "stop the rollout when more devices than this fail")
	waitCommit := fs.Duration("wait-commit", 2*time.Minute, "wait this long for each device to keep the model after its trial (0: done at install)")
	chunk := fs.Int("chunk-size", 128<<10, "bytes per MQTT message")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("need one package (make one with edgeclass sign)")
	}
	pkg, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	share := 0.0
	if *canary != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(*canary, "%"), 64)
		if err != nil || v <= 0 || v > 100 {
			return fmt.Errorf("--canary %q: want a share like 10%%", *canary)
		}
		share = v / 100
	}
	cl, ctx, done, err := dial(conn)
	if err != nil {
		return err
	}
	defer done()
	ids, err := targets(ctx, cl, *device, *group)
	if err != nil {
		return err
	}
	// One bar for the fleet, in percent of the package sent to each device
	// (pushes run in parallel).
	bar := progress.New(os.Stderr, "pushing", 100*len(ids))
	var mu sync.Mutex
	sent := map[string]int{}
	step := func(d string, f float64) {
		mu.Lock()
		defer mu.Unlock()
		if pct := int(100 * f); pct > sent[d] {
			bar.Add(pct-sent[d], d)
			sent[d] = pct
		}
	}
	results := cl.Rollout(ctx, ids, pkg, control.RolloutOptions{Canary: share, MaxFailures: *maxFailures,
		PushOptions: control.PushOptions{ChunkSize: *chunk, WaitCommit: *waitCommit, Progress: step}})
	bar.Finish("")
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DEVICE\tOUTCOME\tMODEL\tTOOK\tREASON")
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
		fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\n", r.Device, r.Step, dash(r.Model.Name), r.Model.Version, r.Took.Round(time.Millisecond), r.Reason)
	}
	w.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d devices did not take the package", failed, len(results))
	}
	return nil
}

func runRollback(args []string) error {
	fs := newFlags("rollback", "")
	conn := connFlags(fs)
	device := fs.String("device", "", "device id(s), comma-separated")
	group := fs.String("group", "", "every online device of this group")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cl, ctx, done, err := dial(conn)
	if err != nil {
		return err
	}
	defer done()
	ids, err := targets(ctx, cl, *device, *group)
	if err != nil {
		return err
	}
	failed := 0
	for _, id := range ids {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		raw, err := cl.Call(cctx, id, "model.rollback", nil)
		cancel()
		if err != nil {
			failed++
			fmt.Printf("%s: %v\n", id, err)
			continue
		}
		fmt.Printf("%s: now runs %s\n", id, raw)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d devices did not roll back", failed, len(ids))
	}
	return nil
}

func runConfig(args []string) error {
	if len(args) == 0 || (args[0] != "get" && args[0] != "set") {
		return fmt.Errorf("usage: edgeclass config get|set --device ID [key=value ...]")
	}
	verb := args[0]
	fs := newFlags("config "+verb, "[key=value ...]")
	conn := connFlags(fs)
	device := fs.String("device", "", "device id (required)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if *device == "" || (verb == "set") == (len(pos) == 0) {
		fs.Usage()
		return fmt.Errorf("need --device, and key=value pairs for set only")
	}
	changes := map[string]string{}
	for _, kv := range pos {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", kv)
		}
		changes[k] = v
	}
	cl, ctx, done, err := dial(conn)
	if err != nil {
		return err
	}
	defer done()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var raw json.RawMessage
	if verb == "get" {
		raw, err = cl.Call(cctx, *device, "config.get", nil)
	} else {
		raw, err = cl.Call(cctx, *device, "config.set", changes)
	}
	if err != nil {
		return err
	}
	var values map[string]string
	if err := json.Unmarshal(raw, &values); err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, k := range sortedKeys(values) {
		fmt.Fprintf(w, "%s\t%s\n", k, values[k])
	}
	return w.Flush()
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
