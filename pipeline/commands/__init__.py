"""The commands of the `stance` CLI, each a thin function over pipeline.core."""
