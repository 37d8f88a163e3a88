from sources.text.ngrams import drop_copied_runs, normalized_words

QUERY = "Is writing an essay on procrastination really the hardest problem in his field? I doubt it."


def test_a_copied_run_goes_with_its_quotes_and_end_punctuation():
    reply = '“Is writing an essay on procrastination really the hardest problem in his field?” No, finishing Arc is.'
    assert drop_copied_runs(reply, QUERY) == ("No, finishing Arc is.", 13)


def test_copies_are_found_whatever_the_case_and_punctuation():
    reply = "IS WRITING an essay -- on procrastination, really the hardest problem... yes it is"
    assert drop_copied_runs(reply, QUERY) == ("yes it is", 10)


def test_runs_under_eight_words_and_texts_without_copies_are_untouched():
    for reply in ("the hardest problem in his field? Surely not.", "Nothing in common here at all, none."):
        assert drop_copied_runs(reply, QUERY) == (reply, 0)
    assert drop_copied_runs("anything", "") == ("anything", 0)


def test_the_rest_of_the_text_keeps_its_lines_and_code_indentation():
    reply = "Intro line.\n\nIs writing an essay on procrastination really the hardest problem\n\n    def f(x):\n        return x"
    text, cut = drop_copied_runs(reply, QUERY)
    assert cut == 10 and text == "Intro line.\n\n    def f(x):\n        return x"
    assert normalized_words(text) == "intro line def f x return x"
