"""The one vocabulary of drop and reject reasons.

Beam counters, reject shards and manifests all use these exact strings, so a number in a
manifest can be traced to a counter and to a rejected record. Add a reason here before using it.
"""

# Rejected: the record is malformed and never became a typed record.
REJECT_TRUNCATED_INPUT = "truncated_input"  # compressed stream ends early; partial tail rejected
REJECT_INVALID_UTF8 = "invalid_utf8"
REJECT_INVALID_JSON = "invalid_json"
REJECT_NOT_AN_OBJECT = "not_an_object"  # valid JSON, but not a JSON object
REJECT_MISSING_FIELDS = "missing_fields"
REJECT_BAD_FIELD_TYPE = "bad_field_type"
REJECT_UNKNOWN_RECORD_TYPE = "unknown_record_type"
REJECT_INVALID_XML = "invalid_xml"
REJECT_UNSAFE_XML = "unsafe_xml"  # DTD, entity declarations or external entities
REJECT_UNREADABLE_FILE = "unreadable_file"
REJECT_VALUE_OUT_OF_RANGE = "value_out_of_range"  # a number or date no typed column can hold
REJECT_SELF_REFERENCE = "self_reference"  # a record that names itself as its parent
REJECT_EMPTY_FILE = "empty_file"  # an input file with no bytes: one record, so it shows in the manifest
REJECT_NOT_UTF8_FILE = "not_utf8_file"  # a whole file in another encoding (UTF-16 XML): refused as one record
REJECT_PARSE_ERROR = "parse_error"  # the parser failed in a way it did not foresee (a bug to look at)
REJECT_INVALID_WIKITEXT = "invalid_wikitext"  # a Wikipedia page whose wikitext could not be parsed

# Dropped: a well-formed record that a filter or a selection step left out.
DROP_DUPLICATE_RECORD = "duplicate_record"  # same source id seen again (e.g. in two input files)
DROP_DUPLICATE_PAIR = "duplicate_pair"  # its pair had a pair_id already kept
DROP_DELETED = "deleted"  # body or text is [deleted] / [removed]
DROP_BOT_AUTHOR = "bot_author"
DROP_NSFW = "nsfw"
DROP_TOO_SHORT = "too_short"
DROP_TOO_LONG = "too_long"
DROP_LOW_SCORE = "low_score"
DROP_LINK_ONLY = "link_only"
DROP_NON_ENGLISH = "non_english"
DROP_EMPTY_TEXT = "empty_text"
DROP_PARENT_MISSING = "parent_missing"  # its parent (post, comment, question) is not in the input
DROP_PARENT_DROPPED = "parent_dropped"  # its parent is in the input but a filter dropped it
DROP_NOT_TOP_REPLY = "not_top_reply"  # not among the top-N replies of its parent
DROP_NO_REPLY = "no_reply"  # a post/comment/question no kept reply answers
DROP_OTHER_POST_TYPE = "other_post_type"  # e.g. Stack Exchange tag wikis
DROP_NO_ANSWER = "no_answer"
DROP_NOT_SELECTED_ANSWER = "not_selected_answer"
DROP_QUESTION_MISSING = "question_missing"
DROP_INCONSISTENT = "inconsistent"  # consistency filter: the passage ranks below top-k for its query
DROP_NO_TITLE = "no_title"  # Semantic Scholar: no record of the paper gives a title
DROP_NO_ABSTRACT = "no_abstract"  # Semantic Scholar: no record of the paper gives an abstract
DROP_ABSTRACT_IS_TITLE = "abstract_is_title"  # Semantic Scholar: the abstract only repeats the title
DROP_SELF_CITATION = "self_citation"  # a paper citing itself
DROP_CITED_MISSING = "cited_missing"  # the cited paper is unresolved, or not in the input with what the pair needs
DROP_CITING_MISSING = "citing_missing"  # the citing paper is not in the input with what the pair needs
DROP_OVER_CAP = "over_cap"  # beyond --max_citations_per_paper for its cited paper
DROP_NO_PAIR = "no_pair"  # a well-formed record that no pair of the configured kinds uses
DROP_NOT_ARTICLE = "not_article"  # Wikipedia: a page outside the article namespace (or not wikitext)
DROP_REDIRECT = "redirect"  # Wikipedia: a redirect page
DROP_DISAMBIGUATION = "disambiguation"  # Wikipedia: a disambiguation page
DROP_LIST_PAGE = "list_page"  # Wikipedia: "List of …" pages
DROP_NO_SECTIONS = "no_sections"  # Wikipedia: an article none of whose sections makes a passage
DROP_BOILERPLATE_SECTION = "boilerplate_section"  # Wikipedia sections: See also, References, External links, …
DROP_MARKUP_LEFT = "markup_left"  # Wikipedia sections: wiki markup survived cleaning (a guard; should stay ~0)

REJECT_REASONS = frozenset(
    v for k, v in dict(globals()).items() if k.startswith("REJECT_") and isinstance(v, str)
)
DROP_REASONS = frozenset(
    v for k, v in dict(globals()).items() if k.startswith("DROP_") and isinstance(v, str)
)
USED = "used"


def counter_name(kind: str, reason: str) -> str:
    """Beam counter name for a reason, e.g. ``dropped/too_short``; the manifest uses the same."""
    if kind not in ("dropped", "rejected"):
        raise ValueError(f"kind must be 'dropped' or 'rejected', not {kind!r}")
    valid = DROP_REASONS if kind == "dropped" else REJECT_REASONS
    if reason not in valid:
        raise ValueError(f"unknown {kind} reason {reason!r}; add it to schemas/reasons.py")
    return f"{kind}/{reason}"
