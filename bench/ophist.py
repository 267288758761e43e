"""Op histograms of ONNX models and the gaps between two of them, for
bench/run and bench/zoo_check: which op types ONNX Runtime's basic-level
output has fewer of than graphsub's output, or writes where graphsub does
not."""
import collections

import onnx


def histogram(path):
    """Op counts of the model at path, the bodies of If, Loop and Scan
    included (an op of a domain other than ONNX's is written domain:op)."""
    counts = collections.Counter()

    def walk(g):
        for n in g.node:
            counts[(n.domain + ":" if n.domain not in ("", "ai.onnx") else "") + n.op_type] += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sub in a.graphs:
                    walk(sub)

    walk(onnx.load(path, load_external_data=False).graph)
    return dict(counts)


def gaps(ours, peer, original=None):
    """{op: [ours, peer]} for each op type the peer has fewer of than ours
    (and, when the original is given, fewer than the original: not the ops
    ours wrote itself, such as the Concat of two merged Convs), or has where
    ours has none and the original has none either (an op the peer wrote: a
    fusion). Constant nodes are left out: ONNX Runtime turns them into
    initializers when it loads a model, at any level."""
    orig = original or {}
    return {op: [ours.get(op, 0), peer.get(op, 0)] for op in sorted(set(ours) | set(peer))
            if op != "Constant" and
            ((peer.get(op, 0) < ours.get(op, 0) and (original is None or peer.get(op, 0) < orig.get(op, 0))) or
             (op not in ours and peer.get(op, 0) and not orig.get(op)))}


def fmt_gaps(g):
    """'Cast 12->2, Identity 3->0', or 'none'."""
    return ", ".join(f"{op} {a}->{b}" for op, (a, b) in g.items()) or "none"
