"""Stage 2, the prompt grammar: the Wan2.2 vocabulary, the Jinja templates, the lint rules."""

from wanflow.grammar.compile import CompiledShot, compile_film, compile_shot
from wanflow.grammar.files import find_grammar_dir, load_vocabulary, packaged_grammar_dir
from wanflow.grammar.vocabulary import Vocabulary

__all__ = [
    "CompiledShot",
    "Vocabulary",
    "compile_film",
    "compile_shot",
    "find_grammar_dir",
    "load_vocabulary",
    "packaged_grammar_dir",
]
