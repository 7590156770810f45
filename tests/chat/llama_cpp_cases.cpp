#include "chat/llama_cpp_cases.h"

#include <cctype>
#include <cstdint>
#include <string_view>

namespace mote::test {
namespace {

enum class Kind { kString, kIdent, kPunct, kEnd, kBad };

struct Token {
  Kind kind = Kind::kEnd;
  std::string text;  // decoded string, identifier, or the punctuation character
};

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Lexer {
 public:
  Lexer(std::string_view src, size_t pos) : s_(src), pos_(pos) {}
  size_t pos() const { return pos_; }

  Token next() {
    skip_space_and_comments();
    if (pos_ >= s_.size()) return {Kind::kEnd, ""};
    const char c = s_[pos_];
    if (c == '"') return string_literal();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
      return {Kind::kIdent, std::string(s_.substr(start, pos_ - start))};
    }
    ++pos_;
    return {Kind::kPunct, std::string(1, c)};
  }

  Token peek() {
    const size_t saved = pos_;
    Token t = next();
    pos_ = saved;
    return t;
  }

 private:
  void skip_space_and_comments() {
    while (pos_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[pos_]))) {
        ++pos_;
      } else if (s_.substr(pos_, 2) == "//") {
        const size_t nl = s_.find('\n', pos_);
        pos_ = nl == std::string_view::npos ? s_.size() : nl + 1;
      } else if (s_.substr(pos_, 2) == "/*") {
        const size_t end = s_.find("*/", pos_ + 2);
        pos_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else {
        return;
      }
    }
  }

  bool escape(std::string& out) {
    const char e = s_[pos_++];
    switch (e) {
      case 'n': out += '\n'; return true;
      case 't': out += '\t'; return true;
      case 'r': out += '\r'; return true;
      case '0': out += '\0'; return true;
      case '\\': case '"': case '\'': case '?': out += e; return true;
      case 'x': case 'u': {
        const size_t digits = e == 'u' ? 4 : 2;
        if (pos_ + digits > s_.size()) return false;
        const uint32_t v = std::stoul(std::string(s_.substr(pos_, digits)), nullptr, 16);
        pos_ += digits;
        if (e == 'x') out += static_cast<char>(v); else append_utf8(v, out);
        return true;
      }
      default: return false;
    }
  }

  Token string_literal() {
    std::string out;
    ++pos_;  // opening quote
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\') {
        ++pos_;
        if (pos_ >= s_.size() || !escape(out)) return {Kind::kBad, "bad escape"};
      } else {
        out += s_[pos_++];
      }
    }
    if (pos_ >= s_.size()) return {Kind::kBad, "unterminated string"};
    ++pos_;  // closing quote
    return {Kind::kString, std::move(out)};
  }

  std::string_view s_;
  size_t pos_;
};

struct Value {
  enum class Type { kString, kBool, kMessages } type = Type::kString;
  std::string str;
  bool boolean = false;
  std::vector<LlamaCppChatMessage> messages;
};

class Parser {
 public:
  Parser(std::string_view src, size_t pos, std::string& error) : lex_(src, pos), error_(error) {}

  bool expect(char c) {
    const Token t = lex_.next();
    if (t.kind == Kind::kPunct && t.text[0] == c) return true;
    return fail(std::string("expected '") + c + "', got '" + t.text + "'");
  }

  // Adjacent literals concatenate, as in C++.
  bool strings(std::string& out) {
    Token t = lex_.next();
    if (t.kind != Kind::kString) return fail("expected a string literal, got '" + t.text + "'");
    out = t.text;
    while (lex_.peek().kind == Kind::kString) out += lex_.next().text;
    return true;
  }

  // { {"role", "content"}, ... }  (possibly empty)
  bool messages(std::vector<LlamaCppChatMessage>& out) {
    if (!expect('{')) return false;
    while (true) {
      const Token t = lex_.peek();
      if (t.kind == Kind::kPunct && t.text == "}") { lex_.next(); return true; }
      if (t.kind == Kind::kPunct && t.text == ",") { lex_.next(); continue; }
      LlamaCppChatMessage m;
      if (!expect('{') || !strings(m.role) || !expect(',') || !strings(m.content) || !expect('}')) return false;
      out.push_back(std::move(m));
    }
  }

  bool value(Value& v) {
    const Token t = lex_.peek();
    if (t.kind == Kind::kString) return strings(v.str);
    if (t.kind == Kind::kIdent && t.text == "U8C") {
      lex_.next();
      return expect('(') && strings(v.str) && expect(')');
    }
    if (t.kind == Kind::kIdent && (t.text == "true" || t.text == "false")) {
      lex_.next();
      v.type = Value::Type::kBool;
      v.boolean = t.text == "true";
      return true;
    }
    if (t.kind == Kind::kPunct && t.text == "{") {
      v.type = Value::Type::kMessages;
      return messages(v.messages);
    }
    return fail("unexpected token '" + t.text + "'");
  }

  bool test_case(LlamaCppChatCase& c) {
    if (!expect('{')) return false;
    std::vector<Value> fields;
    while (true) {
      const Token t = lex_.peek();
      if (t.kind == Kind::kPunct && t.text == "}") { lex_.next(); break; }
      if (t.kind == Kind::kPunct && t.text == ",") { lex_.next(); continue; }
      Value v;
      if (!value(v)) return false;
      fields.push_back(std::move(v));
    }
    if (fields.size() < 3) return fail("a test case needs name, template and expected output");
    std::string* strs[] = {&c.name, &c.template_str, &c.expected_output, &c.expected_output_jinja,
                           &c.bos_token, &c.eos_token};
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i < 6 && fields[i].type == Value::Type::kString) *strs[i] = fields[i].str;
      else if (i == 6 && fields[i].type == Value::Type::kBool) c.supported_with_jinja = fields[i].boolean;
      else if (i == 7 && fields[i].type == Value::Type::kMessages) c.extra_conversation = fields[i].messages;
      else return fail("field " + std::to_string(i) + " of test case '" + c.name + "' has the wrong type");
    }
    return true;
  }

  bool cases(std::vector<LlamaCppChatCase>& out) {
    if (!expect('{')) return false;
    while (true) {
      const Token t = lex_.peek();
      if (t.kind == Kind::kPunct && t.text == "}") { lex_.next(); return true; }
      if (t.kind == Kind::kPunct && t.text == ",") { lex_.next(); continue; }
      LlamaCppChatCase c;
      if (!test_case(c)) return false;
      out.push_back(std::move(c));
    }
  }

 private:
  bool fail(const std::string& what) {
    error_ = what + " at byte " + std::to_string(lex_.pos());
    return false;
  }

  Lexer lex_;
  std::string& error_;
};

}  // namespace

LlamaCppChatTests parse_llama_cpp_chat_tests(const std::string& source, std::string& error) {
  LlamaCppChatTests out;
  error.clear();
  const std::string conv_decl = "std::vector<llama_chat_message> conversation";
  const std::string cases_decl = "std::vector<TestCase> test_cases";
  const size_t conv_at = source.find(conv_decl);
  const size_t cases_at = source.find(cases_decl);
  if (conv_at == std::string::npos || cases_at == std::string::npos) {
    error = "declarations of `conversation` or `test_cases` not found";
    return out;
  }
  Parser conv(source, conv_at + conv_decl.size(), error);
  if (!conv.messages(out.conversation)) return out;
  Parser cases(source, cases_at + cases_decl.size(), error);
  cases.cases(out.cases);
  return out;
}

}  // namespace mote::test
