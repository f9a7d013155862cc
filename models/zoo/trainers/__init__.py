"""Training loops shared by the zoo's tasks."""
