package structs

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
)

// FieldDiff is one changed leaf between two values of the same type.
type FieldDiff struct {
	// Path is the field's path, as Groups[frontend].Tasks[nginx].Resources.CPU.
	Path string
	Old  string `json:",omitempty"`
	New  string `json:",omitempty"`
}

// serverFields are set by the servers; they are not part of a spec and are
// skipped by Diff.
var serverFields = map[string]bool{
	"CreateIndex": true, "ModifyIndex": true, "JobModifyIndex": true,
	"Version": true, "SubmitTime": true, "Status": true, "Stop": true,
	"JobVersion": true, "ClusterIP": true,
	// A deployment's rollout state, which the controllers write.
	"StatusDescription": true, "StableReplicaSetID": true, "StableVersion": true,
	"Promoted": true, "StartTime": true, "ProgressTime": true,
}

// Diff walks two values of the same type by reflection and returns every
// changed leaf, skipping fields the servers set. Slices of structs with a
// Name or Label field are matched by that name, so reordering is not a change.
func Diff(old, new any) []FieldDiff {
	var out []FieldDiff
	diffValue(&out, "", reflect.ValueOf(old), reflect.ValueOf(new))
	return out
}

// Equal reports whether two specs have no difference Diff would show.
func Equal(a, b any) bool { return len(Diff(a, b)) == 0 }

func diffValue(out *[]FieldDiff, path string, a, b reflect.Value) {
	a, b = deref(a), deref(b)
	if !a.IsValid() && !b.IsValid() {
		return
	}
	if !a.IsValid() || !b.IsValid() {
		// One side is absent: report every leaf of the other.
		present, isNew := b, true
		if !b.IsValid() {
			present, isNew = a, false
		}
		zero := reflect.Zero(present.Type())
		if isNew {
			diffValue(out, path, zero, present)
		} else {
			diffValue(out, path, present, zero)
		}
		return
	}
	switch a.Kind() {
	case reflect.Struct:
		t := a.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || serverFields[f.Name] {
				continue
			}
			p := joinPath(path, f.Name)
			if f.Anonymous {
				p = path
			}
			diffValue(out, p, a.Field(i), b.Field(i))
		}
	case reflect.Slice, reflect.Array:
		diffSlice(out, path, a, b)
	case reflect.Map:
		diffMap(out, path, a, b)
	default:
		as, bs := leafString(a), leafString(b)
		if as != bs {
			*out = append(*out, FieldDiff{Path: path, Old: as, New: bs})
		}
	}
}

func diffSlice(out *[]FieldDiff, path string, a, b reflect.Value) {
	if key := sliceKeyField(a.Type().Elem()); key != "" {
		am, bm := keyedElems(a, key), keyedElems(b, key)
		for _, k := range unionKeys(am, bm) {
			diffValue(out, fmt.Sprintf("%s[%s]", path, k), am[k], bm[k])
		}
		return
	}
	n := max(a.Len(), b.Len())
	for i := 0; i < n; i++ {
		var av, bv reflect.Value
		if i < a.Len() {
			av = a.Index(i)
		}
		if i < b.Len() {
			bv = b.Index(i)
		}
		diffValue(out, fmt.Sprintf("%s[%d]", path, i), av, bv)
	}
}

func diffMap(out *[]FieldDiff, path string, a, b reflect.Value) {
	am, bm := map[string]reflect.Value{}, map[string]reflect.Value{}
	for _, k := range a.MapKeys() {
		am[fmt.Sprint(k.Interface())] = a.MapIndex(k)
	}
	for _, k := range b.MapKeys() {
		bm[fmt.Sprint(k.Interface())] = b.MapIndex(k)
	}
	for _, k := range unionKeys(am, bm) {
		diffValue(out, fmt.Sprintf("%s[%s]", path, k), am[k], bm[k])
	}
}

// sliceKeyField returns the name of the field that identifies elements of a
// slice of (pointers to) structs, or "".
func sliceKeyField(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	for _, name := range []string{"Name", "Label", "Path"} {
		if f, ok := t.FieldByName(name); ok && f.Type.Kind() == reflect.String {
			return name
		}
	}
	return ""
}

func keyedElems(v reflect.Value, key string) map[string]reflect.Value {
	m := make(map[string]reflect.Value, v.Len())
	for i := 0; i < v.Len(); i++ {
		e := deref(v.Index(i))
		if !e.IsValid() {
			continue
		}
		k := e.FieldByName(key).String()
		if _, dup := m[k]; dup {
			k = k + "#" + strconv.Itoa(i)
		}
		m[k] = v.Index(i)
	}
	return m
}

func unionKeys(a, b map[string]reflect.Value) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func deref(v reflect.Value) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

func leafString(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	return fmt.Sprint(v.Interface())
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// Copy returns a deep copy of v: pointers, slices and maps are duplicated, so
// a copy can be changed without touching what the state store holds.
func Copy[T any](v T) T {
	src := reflect.ValueOf(&v).Elem()
	dst := reflect.New(src.Type()).Elem()
	copyValue(dst, src)
	return dst.Interface().(T)
}

func copyValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		copyValue(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		inner := reflect.New(src.Elem().Type()).Elem()
		copyValue(inner, src.Elem())
		dst.Set(inner)
	case reflect.Struct:
		for i := 0; i < src.NumField(); i++ {
			if dst.Field(i).CanSet() {
				copyValue(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			copyValue(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		for _, k := range src.MapKeys() {
			val := reflect.New(src.Type().Elem()).Elem()
			copyValue(val, src.MapIndex(k))
			m.SetMapIndex(k, val)
		}
		dst.Set(m)
	default:
		dst.Set(src)
	}
}
