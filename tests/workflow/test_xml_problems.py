"""XML syntax errors as people read them (U2, U3): where (line, column) and what, in the UI language,
for the libxml2 errors a hand-edited BPMN or DMN file commonly has; English outside a request (CLIs)."""
from __future__ import annotations

import pytest
from flask_babel import force_locale
from lxml import etree

from app.workflow.parsing import read_xml, xml_problem

# document → (libxml2 code, English, Chinese)
BROKEN = {
    b"<a><b></a>": (76, "line 1, column 11: the end tag </a> does not match the start tag <b> of line 1",
                    "第 1 行第 11 列：结束标签 </a> 与第 1 行的开始标签 <b> 不匹配"),
    b"": (4, "line 1, column 1: the document is empty", "第 1 行第 1 列：文档是空的"),
    b"not a model": (4, "line 1, column 1: the document does not start with an element ('<' not found)",
                     "第 1 行第 1 列：文档不是以元素开头（找不到“<”）"),
    b"<a/><b/>": (5, "line 1, column 5: there is more content after the end of the root element",
                  "第 1 行第 5 列：根元素结束后还有多余内容（一个文件只能有一个根元素）"),
    b"<a x=1/>": (39, "line 1, column 6: the attribute value must be in quotes (\" or ')",
                  "第 1 行第 6 列：属性值必须用引号（\" 或 '）括起来"),
    b'<a x="1/>': (40, "line 1, column 10: the closing quote of the attribute value is missing",
                   "第 1 行第 10 列：属性值缺少结束引号"),
    b'<a x="1" x="2"/>': (42, "line 1, column 15: the attribute x appears twice", "第 1 行第 15 列：属性 x 出现了两次"),
    b"<a>&nbsp;</a>": (26, "line 1, column 10: the entity &nbsp; is not defined",
                       "第 1 行第 10 列：实体 &nbsp; 未定义"),
    b"<bpmn:process/>": (201, "line 1, column 14: the namespace prefix bpmn (on <process>) is not declared",
                         "第 1 行第 14 列：命名空间前缀 bpmn（用在 <process> 上）未声明"),
    b"<a><b": (73, "line 1, column 6: the start tag <b> is not closed ('>' missing)",
               "第 1 行第 6 列：开始标签 <b> 没有结束（缺少“>”）"),
    b"<a>\n<b>": (77, "line 2, column 4: the document ends before the element <b> is closed",
                  "第 2 行第 4 列：元素 <b> 尚未结束，文档就结束了"),
    b"<a>\x01</a>": (9, "line 1, column 4: invalid character (code 1)", "第 1 行第 4 列：无效字符（编码 1）"),
    b'<a x="<"/>': (38, "line 1, column 7: '<' is not allowed in an attribute value (write &lt;)",
                    "第 1 行第 7 列：属性值中不能出现“<”（请写作 &lt;）"),
    b"<a><!-- x": (45, "line 1, column 10: a comment is not closed ('-->' missing)",
                   "第 1 行第 10 列：注释没有结束（缺少“-->”）"),
    b"<a><1/></a>": (68, "line 1, column 5: invalid element name", "第 1 行第 5 列：元素名称无效"),
    b"<a>salt & pepper</a>": (68, "line 1, column 10: '&' starts no entity reference (write &amp; for the character &)",
                              "第 1 行第 10 列：“&”后面不是实体引用（字符 & 请写作 &amp;）"),
    b"<a>&amp</a>": (23, "line 1, column 8: the entity reference has no closing ';'",
                     "第 1 行第 8 列：实体引用缺少结尾的“;”"),
    b"<a x></a>": (41, "line 1, column 5: the attribute x has no value", "第 1 行第 5 列：属性 x 没有值"),
}


def _error(document: bytes) -> etree.XMLSyntaxError:
    with pytest.raises(etree.XMLSyntaxError) as caught:
        read_xml(document)
    return caught.value


@pytest.mark.req("U2")
@pytest.mark.req("U3")
@pytest.mark.parametrize("document", list(BROKEN), ids=[str(v[0]) for v in BROKEN.values()])
def test_each_common_xml_error_says_where_and_what(app, document):
    code, english, chinese = BROKEN[document]
    error = _error(document)
    assert error.code == code  # the libxml2 error the translation is for
    assert xml_problem(error) == english  # no app context: the CLIs
    with app.test_request_context(), force_locale("zh_CN"):
        assert xml_problem(error) == chinese
    with app.test_request_context(), force_locale("en"):
        assert xml_problem(error) == english


def test_other_xml_errors_keep_libxml2_words_after_the_place():
    error = _error(b'<?xml version="1.0" encoding="no-such-encoding"?><a/>')
    problem = xml_problem(error)
    assert error.code not in {code for code, _, _ in BROKEN.values()}
    assert problem.startswith("line 1, column ") and "encoding" in problem.lower()
    assert ", line 1, column" not in problem  # the place is said once
