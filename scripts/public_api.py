#!/usr/bin/env python3
"""Prints the public API of a crate from its rustdoc JSON, one item per line,
sorted: every path a user can name (re-exports included, so an item reachable
two ways appears twice), with signatures, fields, variants, trait items and
trait implementations (auto traits included, blanket implementations left
out). Attributes that change what users may do (`#[non_exhaustive]`) are kept.

usage: public_api.py CRATE.json [...]   (see scripts/public-api.sh)

Only the parts of the rustdoc JSON format that have been stable for a long
time are read; a format version this script has not been tried with is
reported on stderr, not refused, since the listing is then checked by a diff.
"""

import json
import sys

TESTED_FORMAT_VERSIONS = {57}

# Implementations rustdoc lists that are not part of what users rely on:
# compiler-internal or unstable marker traits, whose presence varies with the
# toolchain rather than with the code.
UNLISTED_TRAITS = {
    "core::marker::Freeze",
    "core::marker::UnsafeUnpin",
    "core::marker::StructuralPartialEq",
}


class Crate:
    def __init__(self, doc):
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.root = str(doc["root"])
        self.lines = set()
        # id -> the public paths it is reachable at (filled by a first walk),
        # so that signatures name local types the way users can.
        self.public = {}
        self.collecting = False

    def item(self, id_):
        return self.index.get(str(id_))

    # ----- types -------------------------------------------------------

    def path_name(self, path):
        """A resolved path: its canonical path when rustdoc knows it."""
        id_ = str(path.get("id"))
        summary = self.paths.get(id_)
        if id_ in self.public:
            name = min(self.public[id_], key=lambda p: (p.count("::"), p))
        elif summary:
            name = "::".join(summary["path"])
        else:
            name = path.get("path", path.get("name", "?"))
        return name + self.generic_args(path.get("args"))

    def generic_args(self, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            a = args["angle_bracketed"]
            parts = [self.generic_arg(x) for x in a.get("args", [])]
            for c in a.get("constraints", []):
                name = c["name"] + self.generic_args(c.get("args"))
                binding = c.get("binding", {})
                if "equality" in binding:
                    eq = binding["equality"]
                    value = self.type_(eq["type"]) if "type" in eq else json.dumps(eq)
                    parts.append(f"{name} = {value}")
                elif "constraint" in binding:
                    parts.append(f"{name}: {self.bounds(binding['constraint'])}")
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            out = f"({', '.join(self.type_(t) for t in p.get('inputs', []))})"
            if p.get("output"):
                out += f" -> {self.type_(p['output'])}"
            return out
        return ""

    def generic_arg(self, arg):
        if arg == "infer":
            return "_"
        if "lifetime" in arg:
            return arg["lifetime"]
        if "type" in arg:
            return self.type_(arg["type"])
        if "const" in arg:
            return arg["const"].get("expr", "_")
        return "?"

    def bounds(self, bounds):
        out = []
        for b in bounds:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                prefix = {"maybe": "?", "maybe_const": "~const "}.get(tb.get("modifier"), "")
                hrtb = self.hrtb(tb.get("generic_params", []))
                out.append(f"{hrtb}{prefix}{self.path_name(tb['trait'])}")
            elif "outlives" in b:
                out.append(b["outlives"])
            elif "use" in b:
                out.append(f"use<{', '.join(self.use_arg(u) for u in b['use'])}>")
        return " + ".join(out)

    @staticmethod
    def use_arg(u):
        if isinstance(u, dict):
            return next(iter(u.values()))
        return str(u)

    def hrtb(self, params):
        if not params:
            return ""
        return f"for<{', '.join(p['name'] for p in params)}> "

    def type_(self, t):
        if t is None:
            return "()"
        if isinstance(t, str):
            return "_" if t == "infer" else t
        (kind, v), = t.items()
        if kind == "resolved_path":
            return self.path_name(v)
        if kind == "generic":
            return v
        if kind == "primitive":
            return v
        if kind == "tuple":
            return f"({', '.join(self.type_(x) for x in v)}{',' if len(v) == 1 else ''})"
        if kind == "slice":
            return f"[{self.type_(v)}]"
        if kind == "array":
            return f"[{self.type_(v['type'])}; {v['len']}]"
        if kind == "borrowed_ref":
            lt = f"{v['lifetime']} " if v.get("lifetime") else ""
            mut = "mut " if v.get("is_mutable") else ""
            return f"&{lt}{mut}{self.type_(v['type'])}"
        if kind == "raw_pointer":
            return f"*{'mut' if v.get('is_mutable') else 'const'} {self.type_(v['type'])}"
        if kind == "impl_trait":
            return f"impl {self.bounds(v)}"
        if kind == "dyn_trait":
            traits = [
                self.hrtb(p.get("generic_params", [])) + self.path_name(p["trait"])
                for p in v["traits"]
            ]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return f"dyn {' + '.join(traits)}"
        if kind == "function_pointer":
            sig = v["sig"]
            inputs = ", ".join(self.type_(ty) for _, ty in sig["inputs"])
            out = f" -> {self.type_(sig['output'])}" if sig.get("output") else ""
            return f"{self.hrtb(v.get('generic_params', []))}fn({inputs}){out}"
        if kind == "qualified_path":
            self_ty = self.type_(v["self_type"])
            name = v["name"] + self.generic_args(v.get("args"))
            if v.get("trait"):
                return f"<{self_ty} as {self.path_name(v['trait'])}>::{name}"
            return f"{self_ty}::{name}"
        if kind == "pat":
            return self.type_(v["type"])
        return json.dumps(t, sort_keys=True)

    # ----- generics ----------------------------------------------------

    def generic_params(self, generics):
        parts = []
        for p in (generics or {}).get("params", []):
            k = p["kind"]
            if "lifetime" in k:
                outlives = k["lifetime"].get("outlives", [])
                parts.append(p["name"] + (f": {' + '.join(outlives)}" if outlives else ""))
            elif "type" in k:
                if k["type"].get("is_synthetic"):
                    continue
                b = self.bounds(k["type"].get("bounds", []))
                d = k["type"].get("default")
                parts.append(p["name"] + (f": {b}" if b else "") + (f" = {self.type_(d)}" if d else ""))
            elif "const" in k:
                parts.append(f"const {p['name']}: {self.type_(k['const']['type'])}")
        return f"<{', '.join(parts)}>" if parts else ""

    def where_clause(self, generics):
        preds = []
        for w in (generics or {}).get("where_predicates", []):
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                preds.append(
                    f"{self.hrtb(bp.get('generic_params', []))}{self.type_(bp['type'])}: {self.bounds(bp['bounds'])}"
                )
            elif "lifetime_predicate" in w:
                lp = w["lifetime_predicate"]
                preds.append(f"{lp['lifetime']}: {' + '.join(lp['outlives'])}")
            elif "eq_predicate" in w:
                ep = w["eq_predicate"]
                rhs = ep["rhs"]
                rhs = self.type_(rhs["type"]) if isinstance(rhs, dict) and "type" in rhs else json.dumps(rhs)
                preds.append(f"{self.type_(ep['lhs'])} == {rhs}")
        return f" where {', '.join(preds)}" if preds else ""

    # ----- items -------------------------------------------------------

    @staticmethod
    def attrs(item):
        out = []
        for a in item.get("attrs", []):
            text = a if isinstance(a, str) else json.dumps(a)
            if "non_exhaustive" in text:
                out.append("#[non_exhaustive] ")
        return "".join(sorted(set(out)))

    def fn_sig(self, name, inner):
        header = inner.get("header", {})
        quals = "".join(
            q for q, on in (
                ("const ", header.get("is_const")),
                ("async ", header.get("is_async")),
                ("unsafe ", header.get("is_unsafe")),
            ) if on
        )
        sig = inner["sig"]
        args = ", ".join(self.fn_arg(n, ty) for n, ty in sig["inputs"])
        out = f" -> {self.type_(sig['output'])}" if sig.get("output") else ""
        g = inner.get("generics")
        return f"{quals}fn {name}{self.generic_params(g)}({args}){out}{self.where_clause(g)}"

    def fn_arg(self, name, ty):
        if name == "self":
            rendered = self.type_(ty)
            if rendered == "Self":
                return "self"
            if rendered in ("&Self", "&mut Self"):
                return rendered.replace("Self", "self")
            return f"self: {rendered}"
        return f"{name}: {self.type_(ty)}"

    def emit(self, owner, line, rank=0):
        """Adds `line`, sorted under `owner` (the path it belongs to): an
        item's line first, then its trait implementations, then its
        members."""
        if not self.collecting:
            self.lines.add((owner, rank, line))

    def walk_module(self, id_, path, seen):
        key = (str(id_), path)
        if key in seen:
            return
        seen.add(key)
        module = self.item(id_)["inner"]["module"]
        for child in module.get("items", []):
            self.visit(child, path, seen)

    def visit(self, id_, prefix, seen):
        item = self.item(id_)
        if item is None or item.get("visibility") != "public":
            return
        (kind, inner), = item["inner"].items()
        if kind == "use":
            target = self.item(inner["id"]) if inner.get("id") is not None else None
            if inner.get("is_glob"):
                if target and "module" in target["inner"]:
                    self.walk_module(inner["id"], prefix, seen)
                else:
                    self.emit(prefix, f"pub use {prefix}::*; // from {inner['source']}")
                return
            if target is None:
                self.emit(f"{prefix}::{inner['name']}", f"pub use {prefix}::{inner['name']}; // from {inner['source']}")
                return
            self.item_at(inner["id"], target, f"{prefix}::{inner['name']}", seen)
            return
        self.item_at(id_, item, f"{prefix}::{item['name']}", seen)

    def item_at(self, id_, item, path, seen):
        self.public.setdefault(str(id_), set()).add(path)
        (kind, inner), = item["inner"].items()
        attrs = self.attrs(item)
        g = inner.get("generics") if isinstance(inner, dict) else None
        gp = self.generic_params(g)
        if kind == "module":
            self.emit(path, f"pub mod {path}")
            self.walk_module(id_, path, seen)
        elif kind == "struct":
            sk = inner["kind"]
            if sk == "unit":
                self.emit(path, f"{attrs}pub struct {path}{gp}{self.where_clause(g)}")
            elif "tuple" in sk:
                fields = [
                    self.type_(self.item(f)["inner"]["struct_field"]) if f is not None else "_"
                    for f in sk["tuple"]
                ]
                self.emit(path, f"{attrs}pub struct {path}{gp}({', '.join(fields)}){self.where_clause(g)}")
            else:
                self.emit(path, f"{attrs}pub struct {path}{gp}{self.where_clause(g)}")
                for f in sk["plain"]["fields"]:
                    field = self.item(f)
                    if field and field.get("visibility") == "public":
                        self.emit(f"{path}::{field['name']}", f"pub {path}::{field['name']}: {self.type_(field['inner']['struct_field'])}")
            self.impls(path, inner.get("impls", []))
        elif kind == "enum":
            self.emit(path, f"{attrs}pub enum {path}{gp}{self.where_clause(g)}")
            for v in inner.get("variants", []):
                variant = self.item(v)
                if variant is None:
                    continue
                vk = variant["inner"]["variant"]["kind"]
                vattrs = self.attrs(variant)
                vpath = f"{path}::{variant['name']}"
                if vk == "plain":
                    self.emit(vpath, f"{vattrs}pub {vpath}")
                elif "tuple" in vk:
                    fields = [
                        self.type_(self.item(f)["inner"]["struct_field"]) if f is not None else "_"
                        for f in vk["tuple"]
                    ]
                    self.emit(vpath, f"{vattrs}pub {vpath}({', '.join(fields)})")
                else:
                    self.emit(vpath, f"{vattrs}pub {vpath} {{ .. }}")
                    for f in vk["struct"]["fields"]:
                        field = self.item(f)
                        if field:
                            self.emit(f"{vpath}::{field['name']}", f"pub {vpath}::{field['name']}: {self.type_(field['inner']['struct_field'])}")
            self.impls(path, inner.get("impls", []))
        elif kind == "union":
            self.emit(path, f"{attrs}pub union {path}{gp}")
            self.impls(path, inner.get("impls", []))
        elif kind == "function":
            self.emit(path, f"{attrs}pub {self.fn_sig(path, inner)}")
        elif kind == "trait":
            quals = ("unsafe " if inner.get("is_unsafe") else "") + ("auto " if inner.get("is_auto") else "")
            b = self.bounds(inner.get("bounds", []))
            self.emit(path, f"{attrs}pub {quals}trait {path}{gp}{': ' + b if b else ''}{self.where_clause(g)}")
            for child in inner.get("items", []):
                self.assoc_item(path, self.item(child), in_trait=True)
        elif kind == "type_alias":
            self.emit(path, f"pub type {path}{gp} = {self.type_(inner['type'])}{self.where_clause(g)}")
        elif kind == "constant":
            self.emit(path, f"pub const {path}: {self.type_(inner['type'])}")
        elif kind == "static":
            mut = "mut " if inner.get("is_mutable") else ""
            self.emit(path, f"pub static {mut}{path}: {self.type_(inner['type'])}")
        elif kind == "macro":
            self.emit(path, f"pub macro {path}!")
        elif kind == "proc_macro":
            self.emit(path, f"pub proc_macro {path}!")
        elif kind == "trait_alias":
            self.emit(path, f"pub trait {path}{gp} = {self.bounds(inner.get('params', []))}")
        else:
            self.emit(path, f"pub {kind} {path}")

    def assoc_item(self, owner, item, in_trait):
        if item is None or (not in_trait and item.get("visibility") != "public"):
            return
        (kind, inner), = item["inner"].items()
        path = f"{owner}::{item['name']}"
        if kind == "function":
            self.emit(path, f"{self.attrs(item)}pub {self.fn_sig(path, inner)}")
        elif kind == "assoc_const":
            self.emit(path, f"pub const {path}: {self.type_(inner['type'])}")
        elif kind == "assoc_type":
            b = self.bounds(inner.get("bounds", []))
            ty = f" = {self.type_(inner['type'])}" if inner.get("type") else ""
            self.emit(path, f"pub type {path}{': ' + b if b else ''}{ty}")

    def impls(self, path, impl_ids):
        for i in impl_ids:
            impl = self.item(i)
            if impl is None:
                continue
            inner = impl["inner"]["impl"]
            if inner.get("blanket_impl") is not None:
                continue
            trait_name = self.path_name(inner["trait"]) if inner.get("trait") else None
            if trait_name in UNLISTED_TRAITS:
                continue
            if inner.get("trait") is None:
                for child in inner.get("items", []):
                    self.assoc_item(path, self.item(child), in_trait=False)
                continue
            g = inner.get("generics")
            neg = "!" if inner.get("is_negative") else ""
            unsafe = "unsafe " if inner.get("is_unsafe") else ""
            for_ = inner["for"]
            if isinstance(for_, dict) and "resolved_path" in for_:
                # The type at the path being listed, not its shortest one.
                for_ = path + self.generic_args(for_["resolved_path"].get("args"))
            else:
                for_ = self.type_(for_)
            self.emit(
                path,
                f"{unsafe}impl{self.generic_params(g)} {neg}{self.path_name(inner['trait'])} "
                f"for {for_}{self.where_clause(g)}",
                rank=1,
            )


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lines = set()
    for path in sys.argv[1:]:
        with open(path) as f:
            doc = json.load(f)
        version = doc.get("format_version")
        if version not in TESTED_FORMAT_VERSIONS:
            print(
                f"public_api.py: {path} is rustdoc JSON format {version}, tried with "
                f"{sorted(TESTED_FORMAT_VERSIONS)}; check the listing's diff",
                file=sys.stderr,
            )
        crate = Crate(doc)
        root = crate.item(crate.root)
        name = root["name"]
        # First walk: where each item is public; second: the listing.
        crate.collecting = True
        crate.walk_module(crate.root, name, set())
        crate.collecting = False
        crate.emit(name, f"pub mod {name}")
        crate.walk_module(crate.root, name, set())
        lines |= crate.lines
    for _, _, line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
