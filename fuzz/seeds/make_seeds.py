#!/usr/bin/python3
"""Write the control-flow seeds of the optimize and run fuzz corpora.

The ONNX test data that seeds the corpora holds If, Loop and Scan only at
one level; these models nest them (an If in a Loop body reading the body's
values, a Loop in an If branch holding an If; If, Loop and Scan three deep
whose innermost bodies read a value two bodies up) with work for every pass
inside, so mutations start from bodies the pipeline rewrites. The models
are those of tests/integration/control_flow.py, written next to this file,
a TorchScript export with a Loop, an If, an LSTM and sequences
(tests/data/torchscript_decoder.onnx, copied), and the LSTMs of
tests/integration/lstm.py (and its GRUs); scripts/fuzz copies them into the corpus.

usage: fuzz/seeds/make_seeds.py
"""
import importlib.util
import os
import shutil

import numpy as np
import onnx

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "control_flow", os.path.join(here, "..", "..", "tests", "integration", "control_flow.py"))
cf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cf)


spec = importlib.util.spec_from_file_location(
    "lstm", os.path.join(here, "..", "..", "tests", "integration", "lstm.py"))
lstm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lstm)


def main():
    models = {}
    for name, build, *_ in cf.CASES:
        models["control_" + name.replace("-", "_")] = build()[0]
    rng = np.random.default_rng(0)
    for name, case in lstm.CASES.items():
        models["lstm_" + name.replace("-", "_")] = lstm.build(name, case, rng)[0]
    for name, case in lstm.GRU_CASES.items():
        models[name.replace("-", "_")] = lstm.build_gru(name, case, rng)[0]
    for name, m in models.items():
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(here, name + ".onnx"))
    shutil.copyfile(os.path.join(here, "..", "..", "tests", "data", "torchscript_decoder.onnx"),
                    os.path.join(here, "torchscript_decoder.onnx"))


if __name__ == "__main__":
    main()
