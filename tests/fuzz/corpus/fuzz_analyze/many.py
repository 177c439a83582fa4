import openvino
qnn = 1
mps hip
