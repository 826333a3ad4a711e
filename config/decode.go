package config

import (
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree against the schema by hand, rather than
// unmarshalling into structs, so that every problem can be reported with its
// dotted key path and line, and all of them at once.
type decoder struct {
	file      string
	baseDir   string
	lookupEnv func(string) (string, bool)
	errs      Errors
	lines     map[string]int // key path -> line, for checks that span keys
}

func (d *decoder) errorf(line int, key, format string, args ...any) {
	d.errs = append(d.errs, FieldError{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows aliases. A chain longer than the limit is treated as absent;
// yaml itself rejects alias cycles, this only keeps the walk bounded.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "something else"
}

// object is a YAML mapping being decoded at path. A nil node means the
// mapping is absent: every getter then leaves its target alone.
type object struct {
	d     *decoder
	path  string
	line  int
	vals  map[string]*yaml.Node // key -> value (aliases resolved)
	kline map[string]int        // key -> line of the key
	bad   bool                  // not a mapping (already reported)
}

// object checks that n is a mapping whose keys are all among known, reporting
// unknown and duplicate keys. A null n is an empty mapping.
func (d *decoder) object(n *yaml.Node, path string, known ...string) *object {
	o := &object{d: d, path: path, vals: map[string]*yaml.Node{}, kline: map[string]int{}}
	n = resolve(n)
	if n == nil {
		return o
	}
	o.line = n.Line
	if isNull(n) {
		return o
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "must be a mapping of keys to values, got %s", kindName(n))
		o.bad = true
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			line := n.Content[i].Line
			d.errorf(line, path, "keys must be plain names")
			continue
		}
		name := k.Value
		full := joinKey(path, name)
		if !contains(known, name) {
			msg := "unknown key"
			if name == "<<" {
				msg = "YAML merge keys (<<) are not supported"
			} else if s := suggest(name, known); s != "" {
				msg += "; did you mean " + s + "?"
			}
			d.errorf(k.Line, full, "%s", msg)
			continue
		}
		if _, dup := o.vals[name]; dup {
			d.errorf(k.Line, full, "duplicate key (first given on line %d)", o.kline[name])
			continue
		}
		o.vals[name] = resolve(v)
		o.kline[name] = k.Line
		d.lines[full] = k.Line
	}
	return o
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the known key closest to name when it is a likely typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (o *object) key(k string) string { return joinKey(o.path, k) }

func (o *object) has(k string) bool { _, ok := o.vals[k]; return ok }

// missing reports k as required when the mapping lacks it; it says nothing
// about a value that was not a mapping at all (that is reported already).
func (o *object) missing(k, msg string) bool {
	if o.has(k) {
		return false
	}
	if !o.bad {
		o.d.errorf(o.line, o.key(k), "%s", msg)
	}
	return true
}

// lineOf is the line of key k, or of the mapping when k is absent.
func (o *object) lineOf(k string) int {
	if l, ok := o.kline[k]; ok {
		return l
	}
	return o.line
}

// scalar returns the value node of k when it is a non-null scalar; otherwise
// it reports why and returns nil. It returns nil silently when k is absent.
func (o *object) scalar(k, want string) *yaml.Node {
	v, ok := o.vals[k]
	if !ok {
		return nil
	}
	if v == nil {
		o.d.errorf(o.kline[k], o.key(k), "must be %s", want)
		return nil
	}
	if isNull(v) {
		hint := ""
		if want == "a string" {
			hint = `; write "" for an empty string`
		}
		o.d.errorf(v.Line, o.key(k), "has no value, must be %s%s", want, hint)
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		o.d.errorf(v.Line, o.key(k), "must be %s, got %s", want, kindName(v))
		return nil
	}
	return v
}

func (o *object) str(k string, dst *string) bool {
	v := o.scalar(k, "a string")
	if v == nil {
		return false
	}
	*dst = v.Value
	return true
}

// check returns "" when a value is acceptable, else what it must be.
type check[T any] func(T) string

func (o *object) integer(k string, dst *int, c check[int64]) {
	v := o.scalar(k, "an integer")
	if v == nil {
		return
	}
	var n int64
	if v.ShortTag() != "!!int" || v.Decode(&n) != nil || n > math.MaxInt32 || n < math.MinInt32 {
		o.d.errorf(v.Line, o.key(k), "must be an integer, got %q", v.Value)
		return
	}
	if msg := c(n); msg != "" {
		o.d.errorf(v.Line, o.key(k), "%s, got %s", msg, v.Value)
		return
	}
	*dst = int(n)
}

func (o *object) boolean(k string, dst *bool) {
	v := o.scalar(k, "true or false")
	if v == nil {
		return
	}
	var b bool
	if v.ShortTag() != "!!bool" || v.Decode(&b) != nil {
		o.d.errorf(v.Line, o.key(k), "must be true or false, got %q", v.Value)
		return
	}
	*dst = b
}

func (o *object) duration(k string, dst *time.Duration, c check[time.Duration]) {
	v := o.scalar(k, `a duration such as "500ms" or "10s"`)
	if v == nil {
		return
	}
	dur, err := time.ParseDuration(strings.TrimSpace(v.Value))
	if err != nil {
		o.d.errorf(v.Line, o.key(k), `must be a duration such as "500ms" or "10s", got %q`, v.Value)
		return
	}
	if msg := c(dur); msg != "" {
		o.d.errorf(v.Line, o.key(k), "%s, got %s", msg, v.Value)
		return
	}
	*dst = dur
}

func (o *object) size(k string, dst *int64, c check[int64]) {
	v := o.scalar(k, `a size such as 16777216 or "16MB"`)
	if v == nil {
		return
	}
	n, err := ParseSize(v.Value)
	if err != nil {
		o.d.errorf(v.Line, o.key(k), "%v", err)
		return
	}
	if msg := c(n); msg != "" {
		o.d.errorf(v.Line, o.key(k), "%s, got %s", msg, v.Value)
		return
	}
	*dst = n
}

func enum[T ~string](o *object, k string, dst *T, allowed ...T) {
	v := o.scalar(k, "a string")
	if v == nil {
		return
	}
	for _, a := range allowed {
		if v.Value == string(a) {
			*dst = a
			return
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	o.d.errorf(v.Line, o.key(k), "must be one of %s, got %q", strings.Join(names, " | "), v.Value)
}

// address reads a host:port. listen allows an empty host and port 0.
func (o *object) address(k string, dst *string, listen bool) {
	var s string
	if !o.str(k, &s) {
		return
	}
	if msg := checkAddress(s, listen); msg != "" {
		o.d.errorf(o.lineOf(k), o.key(k), "%s", msg)
		return
	}
	*dst = s
}

func checkAddress(s string, listen bool) string {
	host, port, err := splitHostPort(s)
	if err != nil {
		return fmt.Sprintf("must be host:port, got %q", s)
	}
	if strings.ContainsAny(host, " \t\r\n/") {
		return fmt.Sprintf("host %q is not a valid host name or IP address", host)
	}
	if !listen && host == "" {
		return fmt.Sprintf("must be host:port with a host, got %q", s)
	}
	lo := 1
	if listen {
		lo = 0
	}
	if port < lo || port > 65535 {
		return fmt.Sprintf("port must be between %d and 65535, got %q", lo, s)
	}
	return ""
}

// splitHostPort is net.SplitHostPort with a numeric port.
func splitHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	if p == "" || strings.TrimLeft(p, "0123456789") != "" || len(p) > 5 {
		return "", 0, fmt.Errorf("port %q is not a number", p)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	return host, port, nil
}

// path reads a file path, made absolute against the config's directory.
func (o *object) filePath(k string, dst *string) bool {
	var s string
	if !o.str(k, &s) {
		return false
	}
	if s == "" {
		o.d.errorf(o.lineOf(k), o.key(k), "must be a file path, got an empty string")
		return false
	}
	*dst = o.d.abs(s)
	return true
}

func (d *decoder) abs(p string) string {
	if filepath.IsAbs(p) || d.baseDir == "" {
		return p
	}
	return filepath.Join(d.baseDir, p)
}

// secret reads exactly one of password, password_env, password_file.
func (o *object) secret(dst *Secret, required bool) {
	keys := []string{"password", "password_env", "password_file"}
	var given []string
	for _, k := range keys {
		if o.has(k) {
			given = append(given, k)
		}
	}
	if len(given) > 1 {
		second := given[1]
		o.d.errorf(o.lineOf(second), o.key(second), "give only one of password, password_env, password_file (also got %s)", given[0])
		return
	}
	if len(given) == 0 {
		if required {
			o.missing("password", "is required (or password_env / password_file)")
		}
		return
	}
	k := given[0]
	var s string
	if !o.str(k, &s) {
		return
	}
	switch k {
	case "password":
		*dst = Secret(s)
	case "password_env":
		if s == "" {
			o.d.errorf(o.lineOf(k), o.key(k), "must name an environment variable, got an empty string")
			return
		}
		val, ok := o.d.lookupEnv(s)
		if !ok {
			o.d.errorf(o.lineOf(k), o.key(k), "environment variable %s is not set", s)
			return
		}
		if val == "" {
			o.d.errorf(o.lineOf(k), o.key(k), "environment variable %s is empty", s)
			return
		}
		*dst = Secret(val)
	case "password_file":
		if s == "" {
			o.d.errorf(o.lineOf(k), o.key(k), "must be a file path, got an empty string")
			return
		}
		p := o.d.abs(s)
		b, err := readSmallFile(p, maxSecretFile)
		if err != nil {
			o.d.errorf(o.lineOf(k), o.key(k), "cannot read password file: %v", err)
			return
		}
		val := strings.TrimRight(string(b), "\r\n")
		if val == "" {
			o.d.errorf(o.lineOf(k), o.key(k), "password file %s is empty", p)
			return
		}
		*dst = Secret(val)
	}
}

// list returns the items of the list at k; absent or null gives none.
// ok is false when the value is not a list (reported here).
func (o *object) list(k string) (items []*yaml.Node, ok bool) {
	v, present := o.vals[k]
	if !present || isNull(v) {
		return nil, true
	}
	if v == nil || v.Kind != yaml.SequenceNode {
		o.d.errorf(o.lineOf(k), o.key(k), "must be a list")
		return nil, false
	}
	return v.Content, true
}

// listen reads an optional listen address where "" means disabled.
func (o *object) listen(k string, dst *string) {
	var s string
	if !o.str(k, &s) {
		return
	}
	if s == "" {
		*dst = ""
		return
	}
	o.address(k, dst, true)
}

// sub returns the nested mapping at k; absent or null gives an empty one.
func (o *object) sub(k string, known ...string) *object {
	s := o.d.object(o.vals[k], o.key(k), known...)
	if _, ok := o.vals[k]; ok {
		s.line = o.kline[k]
	}
	return s
}

// Value checks.

func positiveInt(v int64) string {
	if v <= 0 {
		return "must be a positive integer"
	}
	return ""
}

func nonNegativeInt(v int64) string {
	if v < 0 {
		return "must be >= 0"
	}
	return ""
}

func positiveDur(v time.Duration) string {
	if v <= 0 {
		return "must be a positive duration"
	}
	return ""
}

func nonNegativeDur(v time.Duration) string {
	if v < 0 {
		return "must not be negative"
	}
	return ""
}

func atLeast(minimum time.Duration) check[time.Duration] {
	return func(v time.Duration) string {
		if v < minimum {
			return "must be at least " + formatDuration(minimum)
		}
		return ""
	}
}

func sizeBetween(lo, hi int64) check[int64] {
	return func(v int64) string {
		if v < lo || v > hi {
			return fmt.Sprintf("must be between %s and %s", FormatSize(lo), FormatSize(hi))
		}
		return ""
	}
}

// maxSecretFile bounds what is read for a password; a password file is a line.
const maxSecretFile = 64 << 10

// maxPEMFile bounds a certificate, key or CA bundle file.
const maxPEMFile = 4 << 20

// readSmallFile reads a regular file of at most limit bytes. Refusing other
// file kinds keeps a path like /dev/zero or a FIFO from hanging the load.
func readSmallFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %s", path, FormatSize(limit))
	}
	return b, nil
}
