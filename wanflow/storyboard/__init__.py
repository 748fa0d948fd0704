"""Stage 1, the storyboard: YAML with lines -> pydantic models -> the resolved `Film`.

Every problem of a file is found at once, each with file, line, column and field.
"""

from wanflow.storyboard.load import film_json_schema, load_film

__all__ = ["film_json_schema", "load_film"]
