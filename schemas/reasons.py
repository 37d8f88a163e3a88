"""The one vocabulary of drop and reject reasons.

Beam counters, reject shards and manifests all use these exact strings, so a number in a
manifest can be traced to a counter and to a rejected record. Add a reason here before using it.
"""

# Rejected: the record is malformed and never became a typed record.
REJECT_TRUNCATED_INPUT = "truncated_input"  # compressed stream ends early; partial tail rejected
REJECT_INVALID_UTF8 = "invalid_utf8"
REJECT_INVALID_JSON = "invalid_json"
REJECT_NOT_AN_OBJECT = "not_an_object"  # valid JSON, but not a JSON object
REJECT_RECORD_TOO_LARGE = "record_too_large"  # a line, document or page over its reader's cap: skipped, never held whole
REJECT_NOT_JSON_LINES = "not_json_lines"  # a JSON-lines input that is one pretty-printed document, not an object (or too big)
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
REJECT_NOT_A_WARC = "not_a_warc"  # Common Crawl: a file that starts with no WARC record, or holds none
REJECT_INVALID_HTTP = "invalid_http"  # Common Crawl: a response whose HTTP status line or header block is broken
REJECT_BAD_CONTENT_ENCODING = "bad_content_encoding"  # Common Crawl: a corrupt or unknown gzip/deflate/chunked payload

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
DROP_REPEATS_QUERY = "repeats_query"  # Reddit: a top reply that, cut of the text it copies from its query, is under --min_reply_words
DROP_NO_REPLY = "no_reply"  # a post/comment/question no kept reply answers
DROP_OTHER_POST_TYPE = "other_post_type"  # e.g. Stack Exchange tag wikis
DROP_NO_ANSWER = "no_answer"
DROP_NOT_SELECTED_ANSWER = "not_selected_answer"
DROP_QUESTION_MISSING = "question_missing"
DROP_INCONSISTENT = "inconsistent"  # consistency filter: the passage ranks below top-k for its query
DROP_NO_TITLE = "no_title"  # Semantic Scholar: no record of the paper gives a title
DROP_NO_ABSTRACT = "no_abstract"  # Semantic Scholar: no record of the paper gives an abstract
DROP_ABSTRACT_IS_TITLE = "abstract_is_title"  # Semantic Scholar: the abstract only repeats the title
DROP_NOT_AN_ABSTRACT = "not_an_abstract"  # Semantic Scholar: a funding note, text starting mid-sentence, no full sentence, a sentence twice
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
DROP_CLOSED_QUESTION = "closed_question"  # Stack Exchange: a closed question (ClosedDate), when dropped
DROP_META_SITE = "meta_site"  # Stack Exchange: a post on a meta site (meta.*, *.meta.*), when dropped
DROP_WARC_REQUEST = "warc_request"  # Common Crawl: a WARC request record (what the crawler sent)
DROP_WARC_METADATA = "warc_metadata"  # Common Crawl: a WARC metadata record (fetch time, CC's language guess)
DROP_WARC_INFO = "warc_warcinfo"  # Common Crawl: the warcinfo record that describes a file
DROP_WARC_REVISIT = "warc_revisit"  # Common Crawl: a revisit record (the payload was seen before; none stored)
DROP_WARC_RESOURCE = "warc_resource"  # Common Crawl: a resource record (wget's logs, not a fetched page)
DROP_WARC_OTHER = "warc_other_type"  # Common Crawl: conversion, continuation or unknown WARC records
DROP_DNS_RECORD = "dns_record"  # Common Crawl: a dns: lookup stored as a response (Heritrix)
DROP_NOT_HTML = "not_html"  # Common Crawl: a response that is no HTML page (image, PDF, script, CSS, robots.txt)
DROP_HTTP_STATUS = "http_status"  # Common Crawl: an HTTP status other than 2xx (redirects, 404s)
DROP_RECORD_TOO_LARGE = "record_too_large"  # Common Crawl: a block (or decoded payload) over --max_record_bytes
DROP_BINARY_PAYLOAD = "binary_payload"  # Common Crawl: bytes served as text/html that are no text
DROP_IMAGE_ANSWER = "image_answer"  # Stack Exchange: an answer whose substance was an image (gone from the text): an image and under --min_image_answer_words words
DROP_GENERIC_TITLE = "generic_title"  # Common Crawl: "Home", "Index of /", "404 Not Found", …
DROP_TITLE_TOO_SHORT = "title_too_short"  # Common Crawl: a title under --min_title_chars
DROP_TITLE_TOO_LONG = "title_too_long"  # Common Crawl: a title over --max_title_chars (keyword lists)
DROP_TOO_FEW_WORDS = "too_few_words"  # Common Crawl: a passage under --min_words (Gopher); Reddit: a comment under --min_reply_words that no pair used as its query
DROP_TOO_FEW_SENTENCES = "too_few_sentences"  # Common Crawl: a passage under --min_sentences (C4)
DROP_SYMBOL_RATIO = "symbol_ratio"  # Common Crawl: too many "#" and ellipses per word (Gopher)
DROP_BULLET_LINES = "bullet_lines"  # Common Crawl: most lines start with a bullet (Gopher)
DROP_ELLIPSIS_LINES = "ellipsis_lines"  # Common Crawl: many lines end in an ellipsis, teasers (Gopher)
DROP_LOREM_IPSUM = "lorem_ipsum"  # Common Crawl: placeholder text (C4)
DROP_CURLY_BRACE = "curly_brace"  # Common Crawl: a "{" in the text: code or templates (C4)
DROP_BAD_WORDS = "bad_words"  # Common Crawl: a word of the LDNOOBW English list (C4)
DROP_HIGH_PERPLEXITY = "high_perplexity"  # Common Crawl: KenLM perplexity over --max_perplexity (CCNet, E5)
DROP_DUPLICATE_PASSAGE = "duplicate_passage"  # Common Crawl: another page of the run has the same passage text
DROP_DUPLICATE_PAIR_TEXT = "duplicate_pair_text"  # corpus job: a better-ranked pair has the same normalised query and passage
DROP_REPEATED_PASSAGE = "repeated_passage"  # corpus job: a better-ranked pair has the same normalised passage
DROP_NEAR_DUPLICATE = "near_duplicate"  # corpus job: MinHash LSH put its passage in a bucket with a better-ranked one
DROP_EVAL_QUERY = "eval_query"  # corpus job: its query or passage is an evaluation query (normalised exact match)
DROP_EVAL_NGRAM = "eval_ngram"  # corpus job: shares a word n-gram (13) with an evaluation query or judged passage

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
