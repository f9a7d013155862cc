"""The worker: LISTEN on NOTIFY channels, claim queued jobs, run batched ONNX inference and training
jobs, write results back. Thin by design: every job, result and model lives in the database."""
