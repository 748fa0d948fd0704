"""What the cut needs from a film's files, checked before the first shot renders.

`wanflow validate` and the run's preparation ask these, so a font that is missing or a
soundtrack that does not decode is reported in a second, not after an hour of rendering.
"""

from __future__ import annotations

from wanflow.errors import Problem, UserError
from wanflow.film import Film
from wanflow.media.ffmpeg import check_audio, ffmpeg_exe
from wanflow.media.fonts import font_problems

AUDIO_CHECK_SECONDS = 30.0  # decoded at validate: a bad file fails early, a long one stays quick


def soundtrack_problems(film: Film) -> list[Problem]:
    """Each soundtrack file decodes (its first AUDIO_CHECK_SECONDS) and has a length."""
    problems = []
    if film.soundtrack:
        ffmpeg_exe()  # no ffmpeg is its own problem, not the soundtrack's
    for number, track in enumerate(film.soundtrack):
        try:
            check_audio(track.path, AUDIO_CHECK_SECONDS)
        except UserError as error:
            reason = "; ".join(problem.message for problem in error.problems)
            problems.append(
                Problem(str(film.path), None, None, f"soundtrack[{number}]", f"{track.path.name}: {reason}")
            )
    return problems


def cut_problems(film: Film) -> list[Problem]:
    """Every problem a run would meet with ffmpeg (every clip is written with it), the film's fonts and soundtrack."""
    try:
        ffmpeg_exe()
    except UserError as error:
        return [*error.problems, *font_problems(film)]
    return font_problems(film) + soundtrack_problems(film)
