"""Deployment: the verified ONNX export of actors (`onnx`) and the model registry (`registry`)."""
