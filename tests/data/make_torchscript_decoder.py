"""Write tests/data/torchscript_decoder.onnx: a greedy-decoder-like step (LSTMCell, Linear,
ReLU) in a scripted for loop, and an If on the stacked length, exported from
torch.jit.script by PyTorch 1.13 at opset 13: a Loop and an If whose bodies hold
TorchScript's shape arithmetic and sequences.

usage: make_torchscript_decoder.py OUT.onnx
"""
import sys
import torch, warnings
warnings.filterwarnings("ignore")
class Dec(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)
        self.lstm = torch.nn.LSTMCell(8, 8)
    def forward(self, x, steps: int):
        h = torch.zeros(x.shape[0], 8)
        c = torch.zeros(x.shape[0], 8)
        outs = []
        for i in range(steps):
            h, c = self.lstm(x, (h, c))
            x = torch.relu(self.lin(h))
            outs.append(x)
        y = torch.stack(outs)
        if y.shape[0] > 2:
            y = y.transpose(0, 1).transpose(0, 1) * 2.0
        else:
            y = y + 1.0
        return y
m = torch.jit.script(Dec())
torch.onnx.export(m, (torch.randn(2, 8), 3), sys.argv[1], input_names=["x", "steps"], output_names=["y"], opset_version=13,
                  dynamic_axes={"x": {0: "batch"}})

