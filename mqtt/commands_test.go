package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		payload, code, id string
	}{
		{`{"id":"1","name":"config.set","args":{"a":1}}`, "", "1"},
		{`{"id":"1","name":"ping"}`, "", "1"},
		{` {"name":"ping","id":"x"} `, "", "x"},
		{`not json`, CodeBadJSON, ""},
		{`["id","name"]`, CodeBadJSON, ""},
		{`null`, CodeBadJSON, ""},
		{`{"id":"1","name":"ping"} {"id":"2"}`, CodeBadJSON, ""},
		{`{"name":"ping"}`, CodeBadJSON, ""},
		{`{"id":"7"}`, CodeBadJSON, "7"},
		{`{"id":7,"name":"ping"}`, CodeBadJSON, ""},
		{`{"id":"7","name":["ping"]}`, CodeBadJSON, "7"},
		{`{"id":"","name":"ping"}`, CodeBadJSON, ""},
		{`{"id":"7","name":"Ping Pong"}`, CodeBadJSON, "7"},
		{`{"id":"7","name":"ping","args":[1]}`, CodeBadJSON, "7"},
		{`{"id":"7","name":"ping","args":null}`, CodeBadJSON, "7"},
		{`{"id":"7","name":"ping","arg":{}}`, CodeBadJSON, "7"},
		{`{"id":"` + strings.Repeat("x", 129) + `","name":"ping"}`, CodeBadJSON, ""},
		{`{"id":"7","name":"ping","args":{"pad":"` + strings.Repeat("x", 200) + `"}}`, CodeTooLarge, ""},
	} {
		cmd, err := ParseCommand([]byte(tc.payload), 200)
		code := ""
		if err != nil {
			code = err.Code
		}
		if code != tc.code || cmd.ID != tc.id {
			t.Errorf("%.60s: code %q id %q, want %q %q (%v)", tc.payload, code, cmd.ID, tc.code, tc.id, err)
		}
	}
}

// FuzzParseCommand: any bytes give a command or an error, never a panic;
// an accepted command has a valid id and name, args is an object, and the
// command survives a JSON round trip.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","name":"config.set","args":{"min_confidence":0.7}}`,
		`{"id":"2","name":"model.push","args":{"url":"http://h/m.tflite","sha256":"00"}}`,
		`{"id":"3","name":"ping"}`, `{"id":3}`, `[]`, `{"id":"4","name":"x","args":[]}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		cmd, cerr := ParseCommand(payload, 4096)
		if cerr != nil {
			if cerr.Code != CodeBadJSON && cerr.Code != CodeTooLarge || cerr.Message == "" {
				t.Fatalf("bad error %+v", cerr)
			}
			return
		}
		if cmd.ID == "" || len(cmd.ID) > maxIDLen || validName(cmd.Name) != nil || cmd.Name == "" {
			t.Fatalf("accepted a bad envelope %+v", cmd)
		}
		if cmd.Args != nil && (cmd.Args[0] != '{' || !json.Valid(cmd.Args)) {
			t.Fatalf("args not an object: %q", cmd.Args)
		}
		b, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		again, cerr := ParseCommand(b, 1<<20)
		if cerr != nil || again.ID != cmd.ID || again.Name != cmd.Name {
			t.Fatalf("round trip of %s: %+v %v", b, again, cerr)
		}
	})
}

func TestCommandsRun(t *testing.T) {
	var c Commands
	c.MaxBytes = 1024
	state := map[string]float64{"min_confidence": 0.5}
	if err := c.Register("config.set", func(_ context.Context, args json.RawMessage) (any, error) {
		var a struct {
			MinConfidence *float64 `json:"min_confidence"`
		}
		if err := DecodeArgs(args, &a); err != nil {
			return nil, err
		}
		if a.MinConfidence == nil || *a.MinConfidence < 0 || *a.MinConfidence > 1 {
			return nil, BadArgs(errors.New("min_confidence must be in [0, 1]"))
		}
		state["min_confidence"] = *a.MinConfidence
		return state, nil
	}); err != nil {
		t.Fatal(err)
	}
	c.Register("boom", func(context.Context, json.RawMessage) (any, error) { panic("kaboom") })
	c.Register("fail", func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("disk full") })
	if err := c.Register("config.set", nil); err == nil {
		t.Fatal("registered a name twice")
	}
	if err := c.Register("Bad Name", nil); err == nil {
		t.Fatal("registered a bad name")
	}

	for _, tc := range []struct{ payload, code string }{
		{`{"id":"a","name":"config.set","args":{"min_confidence":"high"}}`, CodeBadArgs},
		{`{"id":"b","name":"config.set","args":{"min_confidence":0.9,"extra":1}}`, CodeBadArgs},
		{`{"id":"c","name":"config.set","args":{"min_confidence":7}}`, CodeBadArgs},
		{`{"id":"d","name":"config.get"}`, CodeUnknown},
		{`{"id":"e","name":"boom"}`, CodeFailed},
		{`{"id":"f","name":"fail"}`, CodeFailed},
		{`{"id":"g","name":"config.set","args":{"min_confidence":0.9}}` + strings.Repeat(" ", 1024), CodeTooLarge},
	} {
		r := c.Run(context.Background(), []byte(tc.payload))
		if r.OK || r.Error == nil || r.Error.Code != tc.code || r.Schema != ReplySchema {
			t.Errorf("%.50s: reply %+v, want code %s", tc.payload, r, tc.code)
		}
		if state["min_confidence"] != 0.5 {
			t.Fatalf("%.50s changed the state", tc.payload)
		}
	}
	r := c.Run(context.Background(), []byte(`{"id":"h","name":"config.set","args":{"min_confidence":0.9}}`))
	if !r.OK || r.ID != "h" || r.Error != nil || string(r.Result) != `{"min_confidence":0.9}` || state["min_confidence"] != 0.9 {
		t.Fatalf("valid command: %+v %s", r, r.Result)
	}
}

// TestDecodeArgsNone: a command that takes no arguments accepts them
// absent, empty or null, and refuses any key.
func TestDecodeArgsNone(t *testing.T) {
	for _, args := range []json.RawMessage{nil, {}, json.RawMessage("null"), json.RawMessage("{}")} {
		if err := DecodeArgs(args, &struct{}{}); err != nil {
			t.Errorf("args %q: %v", args, err)
		}
	}
	if err := DecodeArgs(json.RawMessage(`{"force":true}`), &struct{}{}); err == nil || !strings.Contains(err.Error(), "force") {
		t.Errorf("unknown key: %v, want an error naming it", err)
	}
}
