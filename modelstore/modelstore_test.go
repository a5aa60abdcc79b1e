package modelstore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

func models(t testing.TB) (a, b []byte) {
	t.Helper()
	var err error
	if a, err = os.ReadFile(testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite")); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(testenv.TestData(t, "models/mobilenet_v1_0.5_160_quant.tflite")); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestInstallCommitRollback(t *testing.T) {
	a, b := models(t)
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.ActivePath() != "" {
		t.Fatal("new store has an active model")
	}
	ma, err := s.Install(a, "a", "1", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.Install(b, "b", "2", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.State(); !st.Trial || st.Active.SHA256 != mb.SHA256 || st.Previous.SHA256 != ma.SHA256 {
		t.Fatalf("after installing b on trial: %+v", st)
	}
	back, ok, err := s.Rollback("health check failed")
	if err != nil || !ok || back.SHA256 != ma.SHA256 {
		t.Fatalf("rollback: %v %+v", err, back)
	}
	if st := s.State(); st.Trial || st.Previous != nil || st.LastRollback != "health check failed" {
		t.Fatalf("after rollback: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "models", mb.File)); !os.IsNotExist(err) {
		t.Fatal("the rolled-back model's file was kept")
	}
	// Install again, with labels, and commit: survives reopening.
	if _, err := s.Install(b, "b", "2", []string{"cat", "dog"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := s2.State(); st.Active.Version != "2" || st.Trial || len(s2.Recovered) != 0 || !slices.Equal(st.Active.Labels, []string{"cat", "dog"}) {
		t.Fatalf("after reopen: %+v %v", st, s2.Recovered)
	}
}

func TestRestartDuringTrialRollsBack(t *testing.T) {
	a, b := models(t)
	dir := t.TempDir()
	s, _ := Open(dir)
	s.Install(a, "a", "1", nil, 0)
	s.Install(b, "b", "2", nil, time.Hour)
	s2, err := Open(dir) // the process died during the trial
	if err != nil {
		t.Fatal(err)
	}
	if st := s2.State(); st.Active.Version != "1" || st.Trial || len(s2.Recovered) == 0 {
		t.Fatalf("restart during trial should roll back: %+v %v", st, s2.Recovered)
	}
}

func TestFirstModelOnTrial(t *testing.T) {
	a, _ := models(t)
	dir := t.TempDir()
	s, _ := Open(dir)
	s.Install(a, "a", "1", nil, time.Hour)
	if _, ok, err := s.Rollback("failed"); err != nil || ok || s.ActivePath() != "" {
		t.Fatalf("rolling back the only model: ok %v err %v active %q", ok, err, s.ActivePath())
	}
	s.Install(a, "a", "1", nil, time.Hour)
	s2, err := Open(dir) // died during the trial of the first model
	if err != nil {
		t.Fatal(err)
	}
	if s2.ActivePath() != "" || len(s2.Recovered) == 0 {
		t.Fatalf("an unproven first model survived a restart: %+v", s2.State())
	}
}

func TestCorruptActiveFallsBack(t *testing.T) {
	a, b := models(t)
	dir := t.TempDir()
	s, _ := Open(dir)
	s.Install(a, "a", "1", nil, 0)
	mb, _ := s.Install(b, "b", "2", nil, 0)
	os.WriteFile(filepath.Join(dir, "models", mb.File), b[:100], 0o644)
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := s2.State(); st.Active == nil || st.Active.Version != "1" {
		t.Fatalf("corrupt active model should fall back to the previous one: %+v", st)
	}
}

// TestPowerCut kills a process installing models with SIGKILL at 50 random
// points; after each kill the store must open with a working model (old or
// new, never neither) and an empty staging area.
func TestPowerCut(t *testing.T) {
	if os.Getenv("MODELSTORE_CHILD") != "" {
		installForever(t, os.Getenv("MODELSTORE_CHILD"))
		return
	}
	a, _ := models(t)
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Install(a, "a", "1", nil, 0); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	seen := map[string]int{}
	for i := 0; i < 50; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPowerCut$")
		cmd.Env = append(os.Environ(), "MODELSTORE_CHILD="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()

		s, err := Open(dir)
		if err != nil {
			t.Fatalf("kill %d: open: %v", i, err)
		}
		path := s.ActivePath()
		if path == "" {
			t.Fatalf("kill %d: no active model", i)
		}
		if _, err := tflite.LoadFile(path); err != nil {
			t.Fatalf("kill %d: active model does not load: %v", i, err)
		}
		if left, _ := os.ReadDir(s.StagingDir()); len(left) != 0 {
			t.Fatalf("kill %d: staging not cleaned: %d entries", i, len(left))
		}
		if files, _ := os.ReadDir(filepath.Join(dir, "models")); len(files) > 2 {
			t.Fatalf("kill %d: %d model files kept", i, len(files))
		}
		seen[s.State().Active.Version]++
	}
	t.Logf("active version after 50 kills: %v", seen)
}

// installForever alternates installs (some committed, some left on trial)
// and staged writes until killed.
func installForever(t *testing.T, dir string) {
	a, b := models(t)
	for i := 0; ; i++ {
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		data, v := a, "1"
		if s.State().Active != nil && s.State().Active.Version == "1" {
			data, v = b, "2"
		}
		os.WriteFile(filepath.Join(s.StagingDir(), "incoming-"+strconv.Itoa(i)), data, 0o644)
		if _, err := s.Install(data, fmt.Sprintf("m%d", i), v, nil, time.Duration(i%2)*time.Hour); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			s.Commit()
		}
	}
}
