package mqtt

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// schemaValidator checks a JSON value against the subset of JSON Schema
// that schema/*.json use. A keyword outside the subset is an error, so the
// schema files cannot drift into rules this test silently ignores.
type schemaValidator struct{}

var annotationKeywords = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true}

func (v schemaValidator) validate(schema map[string]any, value any, path string) error {
	keys := make([]string, 0, len(schema))
	for k := range schema {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if annotationKeywords[k] {
			continue
		}
		if err := v.keyword(k, schema, value, path); err != nil {
			return err
		}
	}
	return nil
}

func (v schemaValidator) keyword(k string, schema map[string]any, value any, path string) error {
	arg := schema[k]
	switch k {
	case "type":
		if !hasType(value, arg.(string)) {
			return fmt.Errorf("%s: %v is not of type %s", path, value, arg)
		}
	case "const":
		if fmt.Sprint(value) != fmt.Sprint(arg) {
			return fmt.Errorf("%s: %v, want %v", path, value, arg)
		}
	case "enum":
		for _, e := range arg.([]any) {
			if fmt.Sprint(e) == fmt.Sprint(value) {
				return nil
			}
		}
		return fmt.Errorf("%s: %v is not one of %v", path, value, arg)
	case "minimum", "maximum":
		n, ok := value.(float64)
		if ok && (k == "minimum" && n < arg.(float64) || k == "maximum" && n > arg.(float64)) {
			return fmt.Errorf("%s: %v is outside the %s %v", path, n, k, arg)
		}
	case "minLength", "maxLength":
		s, ok := value.(string)
		if ok && (k == "minLength" && len(s) < int(arg.(float64)) || k == "maxLength" && len(s) > int(arg.(float64))) {
			return fmt.Errorf("%s: length %d breaks %s %v", path, len(s), k, arg)
		}
	case "pattern":
		s, ok := value.(string)
		if ok && !regexp.MustCompile(arg.(string)).MatchString(s) {
			return fmt.Errorf("%s: %q does not match %s", path, s, arg)
		}
	case "required":
		obj, ok := value.(map[string]any)
		for _, r := range arg.([]any) {
			if _, has := obj[r.(string)]; ok && !has {
				return fmt.Errorf("%s: %s is missing", path, r)
			}
		}
	case "properties":
		obj, _ := value.(map[string]any)
		for name, sub := range arg.(map[string]any) {
			if fv, ok := obj[name]; ok {
				if err := v.validate(sub.(map[string]any), fv, path+"."+name); err != nil {
					return err
				}
			}
		}
	case "additionalProperties":
		obj, ok := value.(map[string]any)
		if !ok || arg.(bool) {
			return nil
		}
		props, _ := schema["properties"].(map[string]any)
		for name := range obj {
			if _, known := props[name]; !known {
				return fmt.Errorf("%s: unknown property %s", path, name)
			}
		}
	case "items":
		arr, _ := value.([]any)
		for i, item := range arr {
			if err := v.validate(arg.(map[string]any), item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "minItems", "maxItems":
		arr, ok := value.([]any)
		if ok && (k == "minItems" && len(arr) < int(arg.(float64)) || k == "maxItems" && len(arr) > int(arg.(float64))) {
			return fmt.Errorf("%s: %d items break %s %v", path, len(arr), k, arg)
		}
	default:
		return fmt.Errorf("schema keyword %q at %s is not supported by this validator", k, path)
	}
	return nil
}

func hasType(value any, typ string) bool {
	switch typ {
	case "object":
		_, ok := value.(map[string]any)
		return ok
	case "array":
		_, ok := value.([]any)
		return ok
	case "string":
		_, ok := value.(string)
		return ok
	case "boolean":
		_, ok := value.(bool)
		return ok
	case "number":
		_, ok := value.(float64)
		return ok
	case "integer":
		n, ok := value.(float64)
		return ok && n == math.Trunc(n)
	}
	return false
}

func loadSchema(t testing.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// checkEvent validates a published payload against schema/event-v1.json
// and decodes it strictly.
func checkEvent(t testing.TB, payload []byte) *Event {
	t.Helper()
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatalf("event is not JSON: %v", err)
	}
	if err := (schemaValidator{}).validate(loadSchema(t, "schema/event-v1.json"), v, "event"); err != nil {
		t.Fatalf("event breaks the schema: %v\n%s", err, payload)
	}
	ev, err := DecodeEvent(payload)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func sampleEvent() *Event {
	return &Event{
		Schema: EventSchema, Device: "cam-1", Seq: 1, Frame: 17,
		Time:  Timestamp{time.Date(2026, 11, 3, 10, 0, 0, 120000000, time.FixedZone("CET", 3600))},
		Label: "tabby", Index: 282, Score: 0.5, Confident: true, Reason: ReasonFirst,
		TopK:      []Class{{282, "tabby", 0.75}, {281, "tiger cat", 0.25}},
		Model:     Model{Name: "mobilenet_v2", Version: "1", SHA256: strings.Repeat("ab", 32)},
		LatencyMs: Latency{Capture: 1, Preprocess: 2.5, Inference: 30, Publish: 0.1},
	}
}

func TestEventSchemaAgreesWithStruct(t *testing.T) {
	b, err := json.Marshal(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"time":"2026-11-03T09:00:00.120000000Z"`) {
		t.Fatalf("time not in UTC with nine digits: %s", b)
	}
	ev := checkEvent(t, b)
	if ev.Label != "tabby" || len(ev.TopK) != 2 || ev.Model.SHA256 != strings.Repeat("ab", 32) {
		t.Fatalf("round trip: %+v", ev)
	}

	// Every field the struct writes is required by the schema, and no more.
	var fields map[string]any
	json.Unmarshal(b, &fields)
	schema := loadSchema(t, "schema/event-v1.json")
	var required []string
	for _, r := range schema["required"].([]any) {
		required = append(required, r.(string))
	}
	var written []string
	for k := range fields {
		written = append(written, k)
	}
	sort.Strings(required)
	sort.Strings(written)
	if fmt.Sprint(required) != fmt.Sprint(written) {
		t.Fatalf("schema requires %v, the struct writes %v", required, written)
	}

	// The validator and the decoder refuse what the schema forbids.
	for name, mutate := range map[string]func(map[string]any){
		"missing label":   func(m map[string]any) { delete(m, "label") },
		"unknown field":   func(m map[string]any) { m["colour"] = "red" },
		"seq as string":   func(m map[string]any) { m["seq"] = "1" },
		"bad sha256":      func(m map[string]any) { m["model"].(map[string]any)["sha256"] = "xyz" },
		"score above 1":   func(m map[string]any) { m["top_k"].([]any)[0].(map[string]any)["score"] = 1.5 },
		"wrong schema":    func(m map[string]any) { m["schema"] = "edgeclass.event/2" },
		"time with zone":  func(m map[string]any) { m["time"] = "2026-11-03T10:00:00.120000000+01:00" },
		"unknown reason":  func(m map[string]any) { m["reason"] = "whim" },
		"extra in model":  func(m map[string]any) { m["model"].(map[string]any)["size"] = 1 },
		"fraction in seq": func(m map[string]any) { m["seq"] = 1.5 },
	} {
		var m map[string]any
		json.Unmarshal(b, &m)
		mutate(m)
		if err := (schemaValidator{}).validate(schema, m, "event"); err == nil {
			t.Errorf("%s: the schema validator accepted it", name)
		}
	}
	for _, bad := range []string{`{"schema":"edgeclass.event/1","device":"cam-1","seq":1,"time":"2026-11-03T10:00:00Z","colour":1}`, `{}`, `[]`} {
		if _, err := DecodeEvent([]byte(bad)); err == nil {
			t.Errorf("DecodeEvent accepted %s", bad)
		}
	}
}

func TestSchemaValidatorRefusesUnknownKeywords(t *testing.T) {
	err := (schemaValidator{}).validate(map[string]any{"type": "string", "format": "date-time"}, "x", "v")
	if err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("unsupported keyword: %v", err)
	}
}
