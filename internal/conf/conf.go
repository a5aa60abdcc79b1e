// Package conf layers configuration onto a struct: defaults (the struct's
// initial values), then a YAML file, then environment variables, then
// command-line flags. Every leaf field has a dotted key from its yaml tags
// ("mqtt.listen"), an environment variable (PREFIX_MQTT_LISTEN) and a flag
// (--mqtt.listen), so errors can always name the key.
package conf

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Field is one settable leaf of a configuration struct.
type Field struct {
	Key   string // dotted yaml path
	Env   string // environment variable
	Doc   string // from the `doc` struct tag
	value reflect.Value
}

// Fields lists the leaves of the struct cfg points to.
func Fields(envPrefix string, cfg any) []Field {
	var out []Field
	walk(reflect.ValueOf(cfg).Elem(), "", func(key, doc string, v reflect.Value) {
		env := envPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
		out = append(out, Field{Key: key, Env: env, Doc: doc, value: v})
	})
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func walk(v reflect.Value, prefix string, f func(key, doc string, v reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if opts == "inline" && sf.Type.Kind() == reflect.Struct {
			walk(v.Field(i), prefix, f)
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			walk(fv, key, f)
			continue
		}
		f(key, sf.Tag.Get("doc"), fv)
	}
}

// Set parses s into the field.
func (f Field) Set(s string) error {
	v := f.value
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration (like 10s or 1m)", f.Key, s)
		}
		v.SetInt(int64(d))
		return nil
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not true or false", f.Key, s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", f.Key, s)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a number", f.Key, s)
		}
		v.SetFloat(x)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("%s: unsupported field type %s", f.Key, v.Type())
	}
	return nil
}

// String formats the field's current value.
func (f Field) String() string {
	v := f.value
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Kind() == reflect.Slice:
		return strings.Join(v.Interface().([]string), ",")
	}
	return fmt.Sprint(v.Interface())
}

// LoadFile merges a YAML file into cfg. Unknown keys are errors.
func LoadFile(path string, cfg any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file is fine
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// ApplyEnv sets every field whose environment variable is set.
func ApplyEnv(fields []Field, lookup func(string) (string, bool)) error {
	for _, f := range fields {
		if s, ok := lookup(f.Env); ok {
			if err := f.Set(s); err != nil {
				return fmt.Errorf("%s: %w", f.Env, err)
			}
		}
	}
	return nil
}

// FlagSet holds the values given as flags, to apply after the file and
// the environment.
type FlagSet struct {
	fields []Field
	set    map[string]string
}

// Flags registers one flag per field on fs. The values are recorded and
// applied by Apply, so they override the file and the environment.
func Flags(fs *flag.FlagSet, fields []Field) *FlagSet {
	f := &FlagSet{fields: fields, set: map[string]string{}}
	for _, fl := range fields {
		fs.Func(fl.Key, fmt.Sprintf("%s (env %s, default %q)", fl.Doc, fl.Env, fl.String()), func(s string) error {
			f.set[fl.Key] = s
			return nil
		})
	}
	return f
}

// Has reports whether key was given as a flag.
func (f *FlagSet) Has(key string) bool {
	_, ok := f.set[key]
	return ok
}

// Apply sets the fields given as flags.
func (f *FlagSet) Apply() error {
	for _, fl := range f.fields {
		if s, ok := f.set[fl.Key]; ok {
			if err := fl.Set(s); err != nil {
				return fmt.Errorf("flag --%s: %w", fl.Key, err)
			}
		}
	}
	return nil
}

// Lookup returns the field with the given key.
func Lookup(fields []Field, key string) (Field, bool) {
	for _, f := range fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}
