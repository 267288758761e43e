#!/usr/bin/python3
"""Every mistake in a rule file is caught at load, with file, rule, line and column.

Each file of tests/data/rules/ (one mistake each: a misspelt op, field,
condition, rewrite function or check variable, a wrong arity, an op the
rule's opset range does not have, an unbound name, a duplicate name, more
names than an op has outputs, ...)
is refused whole by `rules list` with exit 3 and exactly the message
below (nul_whitespace.json, found by fuzzing: NUL bytes are white space to
the JSON parser, and the position lookup once read past its end on them). A copy of a library rule's name is refused when the library is
loaded too (`optimize --rules`), and a rewrite typo no longer lets
`optimize` write a model with an op no runtime knows.

usage: rule_errors.py GRAPHSUB SOURCE_ROOT
"""
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper

EXPECTED = [
    ("nul_whitespace.json", "nul_whitespace.json:3:56: rule 1 'fine': match at column 24: expected ')'"),
    ("arity_match.json", "arity_match.json:5:17: rule 1 'relu-two': match at column 1: 'Relu' takes 1 input, not 2"),
    ("arity_rewrite.json", "arity_rewrite.json:6:19: rule 1 'add-neg': rewrite at column 1: 'Sub' takes 2 inputs at opset 1, not 3"),
    ("check_entry_field.json", "check_entry_field.json:3:5: rule 1 'relu-relu': check: 'x': unknown field 'shap' (did you mean 'shape'?)"),
    ("check_var_typo.json", "check_var_typo.json:3:5: rule 1 'relu-relu': check: 'xx' is not a variable of the match (did you mean 'x'?)"),
    ("class_value.json", "class_value.json:5:16: rule 1 'relu-relu': class must be \"cleanup\", \"search\" or \"lower\""),
    ("cond_arg_kind.json", "cond_arg_kind.json:8:18: rule 1 'relu-relu': where at column 9: rank(): argument 2 must be a number"),
    ("cond_arity.json", "cond_arity.json:7:10: rule 1 'relu-relu': where at column 1: rank() takes 2 arguments, not 1"),
    ("cond_attr_on_value.json", "cond_attr_on_value.json:7:18: rule 1 'softmax-axis': where at column 9: attr_eq(): argument 1 must be an attribute variable of the match ({name=var})"),
    ("cond_let_var.json", "cond_let_var.json:8:17: rule 1 'mul-add': where at column 8: scalar(): 'k' is a rewrite binding, not a variable of the match"),
    ("cond_trailing.json", "cond_trailing.json:7:19: rule 1 'mul-one': where at column 10: unexpected text after the condition"),
    ("cond_typo.json", "cond_typo.json:7:10: rule 1 'mul-one': where at column 1: unknown condition 'cnst' (did you mean 'const'?)"),
    ("cond_unknown_var.json", "cond_unknown_var.json:7:16: rule 1 'mul-one': where at column 7: const(): 'cc' is not bound by the match (did you mean 'c'?)"),
    ("duplicate_key.json", "duplicate_key.json:5:7: rule 1 'relu-relu': duplicate key 'match'"),
    ("duplicate_name.json", "duplicate_name.json:25:15: rule 3 'relu-relu': duplicate rule name 'relu-relu' (also in duplicate_name.json)"),
    ("field_chekc.json", "field_chekc.json:7:7: rule 1 'relu-relu': unknown field 'chekc' (did you mean 'check'?)"),
    ("field_clas.json", "field_clas.json:5:7: rule 1 'relu-relu': unknown field 'clas' (did you mean 'class'?)"),
    ("func_arg_kind.json", "func_arg_kind.json:6:45: rule 1 'transpose-compose': rewrite at column 27: compose(): argument 1 must be an attribute variable of the match ({name=var})"),
    ("func_in_match.json", "func_in_match.json:5:22: rule 1 'relu-dim': match at column 6: 'dim(...)' in a match: a pattern reads ops (capitalized) and variables; conditions go in \"where\""),
    ("func_place.json", "func_place.json:6:37: rule 1 'concat-axis': rewrite at column 19: shape() cannot be an attribute value"),
    ("func_typo_rewrite.json", "func_typo_rewrite.json:9:31: rule 1 'reshape-same': rewrite at column 13: unknown rewrite function 'dimm' (did you mean 'dim'?)"),
    ("invalid_json.json", "invalid_json.json:5:7: invalid JSON"),
    ("let_undefined.json", "let_undefined.json:9:29: rule 1 'mul-add': rewrite at column 11: a rewrite binding reads a name that is neither matched nor bound before it"),
    ("match_literal.json", "match_literal.json:5:24: rule 1 'add-one': match at column 8: a literal cannot be an input in a match pattern"),
    ("match_syntax.json", "match_syntax.json:5:29: rule 1 'relu-relu': match at column 13: expected ')'"),
    ("op_typo_match.json", "op_typo_match.json:6:21: rule 1 'abs-abs': match at column 5: unknown op 'Abss' (did you mean 'Abs'?)"),
    ("op_typo_rewrite.json", "op_typo_rewrite.json:7:19: rule 1 'abs-abs': rewrite at column 1: unknown op 'Absolute'"),
    ("opset_order.json", "opset_order.json:5:16: rule 1 'relu-relu': opset must be [min, max] with 1 <= min <= max"),
    ("other_domain.json", "other_domain.json:6:19: rule 1 'fused': rewrite at column 1: 'com.microsoft.FusedMatMulRelu': ops of other domains are not supported in rules"),
    ("rewrit_field.json", "rewrit_field.json:6:7: rule 1 'relu-relu': unknown field 'rewrit' (did you mean 'rewrite'?)"),
    ("rewrite_op_since.json", "rewrite_op_since.json:8:23: rule 1 'abs-sign': rewrite at column 5: 'Sign' needs opset 9 or later; the rule can fire from opset 1 (its \"opset\" range and the ops it matches)"),
    ("rewrite_opset.json", "rewrite_opset.json:11:19: rule 1 'layernorm-ish': rewrite at column 1: 'LayerNormalization' needs opset 17 or later; the rule can fire from opset 13 (its \"opset\" range and the ops it matches)"),
    ("top_field.json", "top_field.json:15:3: unknown field 'version' (a rule file holds \"rules\" and \"doc\")"),
    ("absent_required.json", "absent_required.json:6:26: rule 1 'add-absent': rewrite at column 8: '_' (an absent input) cannot be input 2 of 'Add', which it requires at opset 1"),
    ("absent_place.json", "absent_place.json:6:19: rule 1 'relu-absent': rewrite at column 1: '_' (an absent input) can only be an input of an op"),
    ("unbound_rewrite_var.json", "unbound_rewrite_var.json:6:26: rule 1 'add-self': rewrite at column 8: 'two' is not bound by the match or a rewrite binding"),
    ("let_outputs.json", "let_outputs.json:7:26: rule 1 'neg-neg': rewrite at column 8: 'Relu' has 1 output at opset 1, not 2"),
    ("final_outputs.json", "final_outputs.json:6:28: rule 1 'neg-abs': rewrite at column 10: 'Relu' has 1 output at opset 1, not 2"),
    ("where_not_list.json", "where_not_list.json:6:16: rule 1 'mul-one': where: 'where' must be a list"),
]


def main():
    gs, root = os.path.abspath(sys.argv[1]), sys.argv[2]
    corpus = os.path.join(root, "tests", "data", "rules")
    failures = 0

    def check(ok, what, got=""):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what + ("" if ok else "\n     got: " + got))
        failures += not ok

    listed = sorted(f for f in os.listdir(corpus) if f.endswith(".json"))
    named = sorted([f for f, _ in EXPECTED] + ["library_copy.json"])
    check(listed == named, f"the corpus has {len(listed)} files, each with an expected message",
          str(set(listed) ^ set(named)))
    for name, message in EXPECTED:
        r = subprocess.run([gs, "rules", "list", name], cwd=corpus, capture_output=True, text=True, timeout=60)
        got = r.stderr.strip()
        check(r.returncode == 3 and got == "graphsub: " + message and not r.stdout,
              f"{name}: {message}", f"exit {r.returncode}: {got}")

    with tempfile.TemporaryDirectory() as d:
        m = os.path.join(d, "m.onnx")
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
        g = helper.make_graph([helper.make_node("Abs", ["x"], ["a"]), helper.make_node("Abs", ["a"], ["y"])],
                              "g", [x], [y])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), m)
        out = os.path.join(d, "o.onnx")
        copy = os.path.join(corpus, "library_copy.json")
        r = subprocess.run([gs, "optimize", m, "-o", out, "--rules", copy], capture_output=True, text=True)
        check(r.returncode == 3 and "library_copy.json:4:15: rule 1 'relu-relu': duplicate rule name "
              "'relu-relu' (also in rules/cleanup.json)" in r.stderr and not os.path.exists(out),
              "a copy of a library rule's name is refused when the library is loaded", r.stderr.strip())
        r = subprocess.run([gs, "optimize", m, "-o", out, "--rules", os.path.join(corpus, "op_typo_rewrite.json")],
                           capture_output=True, text=True)
        check(r.returncode == 3 and "unknown op 'Absolute'" in r.stderr and not os.path.exists(out),
              "a rewrite typo stops optimize before it writes anything", r.stderr.strip())
        r = subprocess.run([gs, "rules", "list", corpus], capture_output=True, text=True)
        check(r.returncode == 3 and not r.stdout, "a folder with a broken file is refused", r.stderr.strip())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
