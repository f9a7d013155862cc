"""The model zoo: six archetypes x nine model types (plpython/zoo_types.py), each with a task on
the contract simulator, trained, validated, exported to ONNX and served from the database.

    python -m models.zoo train --all --profile small
    python -m models.zoo evaluate --all
    python -m models.zoo export --all --verify
    python -m models.zoo deploy --all

docs/model_zoo.md describes every task, the validation bars and the pipeline.
"""
