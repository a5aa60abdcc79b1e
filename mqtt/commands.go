package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Command is the envelope on edgeclass/<device>/commands:
//
//	{"id": "42", "name": "config.set", "args": {...}}
//
// id (1-128 characters) is echoed in the reply; name (1-64 characters of
// [a-z0-9._-]) picks the handler; args, optional, is a JSON object handed
// to the handler. Any other key makes the command malformed.
type Command struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Reply is published on edgeclass/<device>/replies for every command,
// malformed ones included (with the id when it could be read).
type Reply struct {
	Schema string          `json:"schema"`
	ID     string          `json:"id"`
	Name   string          `json:"name,omitempty"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *CommandError   `json:"error,omitempty"`
	Time   Timestamp       `json:"time"`
}

// CommandError says why a command failed. Its Code is one of the Code*
// constants; the message is for people.
type CommandError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *CommandError) Error() string { return e.Code + ": " + e.Message }

// Error codes in replies.
const (
	CodeTooLarge = "too_large"       // payload over the size limit
	CodeBadJSON  = "malformed"       // not a JSON object, or a bad envelope
	CodeUnknown  = "unknown_command" // no handler has that name
	CodeBadArgs  = "bad_args"        // the handler refused its arguments
	CodeFailed   = "failed"          // the handler failed
	CodeBusy     = "busy"            // too many commands waiting
)

// DefaultMaxCommandBytes bounds a command payload unless Commands.MaxBytes says otherwise.
const DefaultMaxCommandBytes = 1 << 20

const (
	maxIDLen   = 128
	maxNameLen = 64
)

// ParseCommand checks an envelope. On error it still returns the id when
// one could be read, so the reply can carry it.
func ParseCommand(payload []byte, maxBytes int) (Command, *CommandError) {
	if len(payload) > maxBytes {
		return Command{}, &CommandError{CodeTooLarge, fmt.Sprintf("%d bytes, the limit is %d", len(payload), maxBytes)}
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return Command{}, &CommandError{CodeBadJSON, "the payload is not a JSON object"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Command{}, &CommandError{CodeBadJSON, "data after the JSON object"}
	}
	var cmd Command
	idErr := decodeString(fields["id"], "id", maxIDLen, &cmd.ID)
	if idErr != nil {
		cmd.ID = ""
	}
	for _, err := range []*CommandError{idErr, decodeString(fields["name"], "name", maxNameLen, &cmd.Name)} {
		if err != nil {
			return Command{ID: cmd.ID}, err
		}
	}
	if err := validName(cmd.Name); err != nil {
		return Command{ID: cmd.ID}, &CommandError{CodeBadJSON, err.Error()}
	}
	if args, ok := fields["args"]; ok {
		if len(args) == 0 || args[0] != '{' {
			return Command{ID: cmd.ID}, &CommandError{CodeBadJSON, "args must be a JSON object"}
		}
		cmd.Args = args
	}
	var unknown []string
	for k := range fields {
		if k != "id" && k != "name" && k != "args" {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Command{ID: cmd.ID}, &CommandError{CodeBadJSON, fmt.Sprintf("unknown keys %v (the envelope has id, name, args)", unknown)}
	}
	return cmd, nil
}

func decodeString(raw json.RawMessage, key string, maxLen int, dst *string) *CommandError {
	if raw == nil {
		return &CommandError{CodeBadJSON, key + " is missing"}
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return &CommandError{CodeBadJSON, key + " must be a string"}
	}
	if *dst == "" || len(*dst) > maxLen {
		return &CommandError{CodeBadJSON, fmt.Sprintf("%s must be 1 to %d bytes", key, maxLen)}
	}
	return nil
}

func validName(name string) error {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("name %q may only use a-z, 0-9, '.', '_' and '-'", name)
		}
	}
	return nil
}

// Handler runs one command. It gets the args object (nil if absent) and
// returns a result to marshal into the reply. A handler must validate all
// of args before changing anything; DecodeArgs does the strict decoding.
type Handler func(ctx context.Context, args json.RawMessage) (result any, err error)

// BadArgs marks a handler error as the caller's fault (reply code bad_args).
func BadArgs(err error) error { return &CommandError{CodeBadArgs, err.Error()} }

// DecodeArgs decodes args strictly into v (no unknown keys, right types);
// its errors are BadArgs errors. Absent args decode as {}.
func DecodeArgs(args json.RawMessage, v any) error {
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return BadArgs(fmt.Errorf("args: %w", err))
	}
	return nil
}

// Commands is a registry of handlers. Safe for concurrent use.
type Commands struct {
	// MaxBytes bounds a command payload (0: DefaultMaxCommandBytes).
	MaxBytes int
	// Timeout bounds one handler's context (0: one minute).
	Timeout time.Duration

	mu       sync.RWMutex
	handlers map[string]Handler
}

// Register adds a handler; it fails on a bad or taken name.
func (c *Commands) Register(name string, h Handler) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("command name %q must be 1 to %d bytes", name, maxNameLen)
	}
	if err := validName(name); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handlers == nil {
		c.handlers = map[string]Handler{}
	}
	if _, ok := c.handlers[name]; ok {
		return fmt.Errorf("command %q is registered twice", name)
	}
	c.handlers[name] = h
	return nil
}

// Names lists the registered commands, sorted.
func (c *Commands) Names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var names []string
	for n := range c.handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run parses one payload, runs its handler and returns the reply. A
// malformed payload reaches no handler.
func (c *Commands) Run(ctx context.Context, payload []byte) Reply {
	maxBytes := c.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxCommandBytes
	}
	cmd, cerr := ParseCommand(payload, maxBytes)
	reply := Reply{Schema: ReplySchema, ID: cmd.ID, Name: cmd.Name}
	if cerr == nil {
		c.mu.RLock()
		h := c.handlers[cmd.Name]
		c.mu.RUnlock()
		if h == nil {
			cerr = &CommandError{CodeUnknown, fmt.Sprintf("no command %q (have %v)", cmd.Name, c.Names())}
		} else {
			reply.Result, cerr = c.call(ctx, h, cmd)
		}
	}
	reply.OK, reply.Error = cerr == nil, cerr
	reply.Time = Timestamp{time.Now()}
	return reply
}

func (c *Commands) call(ctx context.Context, h Handler, cmd Command) (result json.RawMessage, cerr *CommandError) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			result, cerr = nil, &CommandError{CodeFailed, fmt.Sprintf("%s panicked: %v", cmd.Name, r)}
		}
	}()
	v, err := h(ctx, cmd.Args)
	if err != nil {
		var ce *CommandError
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, &CommandError{CodeFailed, err.Error()}
	}
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &CommandError{CodeFailed, fmt.Sprintf("result: %v", err)}
	}
	return b, nil
}
