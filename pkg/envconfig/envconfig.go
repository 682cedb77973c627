// Package envconfig reads a service's settings from environment variables
// the same way in every service: `env` struct tags (caarlos0/env),
// durations in Go syntax or as bare milliseconds, and errors that name the
// variable an operator has to fix.
package envconfig

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Parse fills cfg, a pointer to a struct with `env` tags, from environ
// (nil: the process environment).
func Parse(environ map[string]string, cfg any) error {
	if environ == nil {
		environ = env.ToMap(os.Environ())
	}
	err := env.ParseWithOptions(cfg, env.Options{
		Environment: environ,
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeFor[time.Duration](): func(v string) (any, error) { return ParseDuration(v) },
		},
	})
	if err == nil {
		return nil
	}
	return named(reflect.TypeOf(cfg).Elem(), err)
}

// ParseDuration accepts Go durations ("25s", "1m30s") and, as socket.io's
// Node options do, bare integers as milliseconds ("25000").
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 25s, 1m30s, or milliseconds)", v)
	}
	return d, nil
}

// named rewrites env's errors, which name the Go field, to name the
// environment variable.
func named(t reflect.Type, err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				errs = append(errs, fmt.Errorf("%s: %w", f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}
