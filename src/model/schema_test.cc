#include "model/schema.h"

#include <gtest/gtest.h>

#include <string>

namespace nodespace::schema {
namespace {

using nlohmann::json;

// The message of a failed validation, or "ok".
std::string Check(const json& properties, const TypeSchema& schema) {
  Status st = Validate(properties, schema);
  if (st.ok()) return "ok";
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  return st.message();
}

std::string CheckTask(const json& properties) {
  const TypeSchema* task = BuiltinSchema("task");
  EXPECT_NE(task, nullptr);
  return task ? Check(properties, *task) : "no task schema";
}

// The message of a failed parse, or "ok".
std::string ParseError(const json& properties) {
  auto parsed = ParseSchemaNode(properties);
  if (parsed.ok()) return "ok";
  EXPECT_TRUE(parsed.status().IsInvalidArgument()) << parsed.status().ToString();
  return parsed.status().message();
}

TEST(Schema, BuiltinTaskSchema) {
  const TypeSchema* task = BuiltinSchema("task");
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->for_type, "task");
  EXPECT_TRUE(task->allow_unknown_fields);
  ASSERT_EQ(task->fields.count("status"), 1u);
  EXPECT_EQ(task->fields.at("status").type, "enum");
  EXPECT_EQ(task->fields.at("status").values,
            (std::vector<std::string>{"open", "in_progress", "done", "cancelled"}));
  EXPECT_EQ(task->fields.at("due").type, "date");
  EXPECT_EQ(task->fields.at("priority").type, "integer");
  EXPECT_EQ(task->fields.at("completed_at").type, "datetime");
  for (const auto& [name, spec] : task->fields) EXPECT_FALSE(spec.required) << name;
}

TEST(Schema, OtherBuiltins) {
  const TypeSchema* date = BuiltinSchema("date");
  ASSERT_NE(date, nullptr);
  EXPECT_EQ(date->for_type, "date");
  EXPECT_TRUE(date->fields.empty());
  EXPECT_EQ(BuiltinSchema("text"), nullptr);
  EXPECT_EQ(BuiltinSchema("book"), nullptr);
  EXPECT_EQ(BuiltinSchema(""), nullptr);
  EXPECT_EQ(BuiltinSchema("Task"), nullptr);
}

TEST(Schema, TaskAcceptsWellTypedProperties) {
  EXPECT_EQ(CheckTask(json::object()), "ok");
  EXPECT_EQ(CheckTask({{"task", json::object()}}), "ok");
  EXPECT_EQ(CheckTask({{"task",
                        {{"status", "open"},
                         {"due", "2024-05-03"},
                         {"priority", 2},
                         {"completed_at", "2024-05-03T10:00:00Z"}}}}),
            "ok");
  for (const char* s : {"open", "in_progress", "done", "cancelled"}) {
    EXPECT_EQ(CheckTask({{"task", {{"status", s}}}}), "ok") << s;
  }
  EXPECT_EQ(CheckTask({{"task", {{"priority", -3}}}}), "ok");
  EXPECT_EQ(CheckTask({{"task", {{"due", "2024-02-29"}}}}), "ok");
  EXPECT_EQ(CheckTask({{"task", {{"completed_at", "2024-05-03"}}}}), "ok");
  EXPECT_EQ(CheckTask({{"task", {{"completed_at", "2024-05-03T10:00:00.5+02:00"}}}}), "ok");
  // null is the same as absent.
  EXPECT_EQ(CheckTask({{"task", {{"status", nullptr}, {"due", nullptr}}}}), "ok");
  // The task schema allows fields of its own choosing.
  EXPECT_EQ(CheckTask({{"task", {{"color", "red"}}}}), "ok");
  // Other namespaces are not the task schema's business.
  EXPECT_EQ(CheckTask({{"ui", {{"status", 12}}}, {"task", {{"status", "done"}}}}), "ok");
}

TEST(Schema, TaskStatusIsAnEnum) {
  EXPECT_EQ(CheckTask({{"task", {{"status", "later"}}}}),
            "task.status: expected one of [open, in_progress, done, cancelled], got \"later\"");
  EXPECT_EQ(CheckTask({{"task", {{"status", "OPEN"}}}}),
            "task.status: expected one of [open, in_progress, done, cancelled], got \"OPEN\"");
  EXPECT_EQ(CheckTask({{"task", {{"status", 1}}}}),
            "task.status: expected one of [open, in_progress, done, cancelled], got 1");
}

TEST(Schema, TaskDueIsADate) {
  EXPECT_EQ(CheckTask({{"task", {{"due", "May 3"}}}}),
            "task.due: expected a date YYYY-MM-DD, got \"May 3\"");
  EXPECT_EQ(CheckTask({{"task", {{"due", "2024-02-30"}}}}),
            "task.due: expected a date YYYY-MM-DD, got \"2024-02-30\"");
  EXPECT_EQ(CheckTask({{"task", {{"due", "2024-05-03T10:00:00Z"}}}}),
            "task.due: expected a date YYYY-MM-DD, got \"2024-05-03T10:00:00Z\"");
  EXPECT_EQ(CheckTask({{"task", {{"due", 20240503}}}}),
            "task.due: expected a date YYYY-MM-DD, got 20240503");
}

TEST(Schema, TaskPriorityIsAnInteger) {
  EXPECT_EQ(CheckTask({{"task", {{"priority", 1.5}}}}),
            "task.priority: expected an integer, got 1.5");
  EXPECT_EQ(CheckTask({{"task", {{"priority", "1"}}}}),
            "task.priority: expected an integer, got \"1\"");
  EXPECT_EQ(CheckTask({{"task", {{"priority", true}}}}),
            "task.priority: expected an integer, got true");
}

TEST(Schema, TaskCompletedAtIsADatetime) {
  EXPECT_EQ(CheckTask({{"task", {{"completed_at", "yesterday"}}}}),
            "task.completed_at: expected an ISO 8601 date-time, got \"yesterday\"");
  EXPECT_EQ(CheckTask({{"task", {{"completed_at", 5}}}}),
            "task.completed_at: expected an ISO 8601 date-time, got 5");
}

TEST(Schema, TaskNamespaceMustBeAnObject) {
  EXPECT_EQ(CheckTask({{"task", 5}}), "task: expected an object of task properties");
  EXPECT_EQ(CheckTask({{"task", json::array()}}), "task: expected an object of task properties");
  EXPECT_EQ(CheckTask({{"task", "open"}}), "task: expected an object of task properties");
}

TEST(Schema, LongValuesAreAbbreviatedInMessages) {
  const std::string msg = CheckTask({{"task", {{"priority", std::string(100, 'x')}}}});
  EXPECT_EQ(msg.rfind("task.priority: expected an integer, got \"xxx", 0), 0u) << msg;
  EXPECT_NE(msg.find("..."), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 100u) << msg;
}

json BookSchema() {
  return json::parse(R"({"schema": {
      "for": "book",
      "allow_unknown_fields": false,
      "fields": {
        "pages":    {"type": "integer", "required": true},
        "state":    {"type": "enum", "values": ["unread", "reading", "read"]},
        "title":    {"type": "string"},
        "rating":   {"type": "number"},
        "owned":    {"type": "boolean"},
        "tags":     {"type": "array"},
        "meta":     {"type": "object"},
        "bought":   {"type": "date"},
        "finished": {"type": "datetime", "required": false}
      }}})");
}

TEST(Schema, ParsesAUserSchema) {
  auto parsed = ParseSchemaNode(BookSchema());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const TypeSchema& s = *parsed;
  EXPECT_EQ(s.for_type, "book");
  EXPECT_FALSE(s.allow_unknown_fields);
  EXPECT_EQ(s.fields.size(), 9u);
  EXPECT_EQ(s.fields.at("pages").type, "integer");
  EXPECT_TRUE(s.fields.at("pages").required);
  EXPECT_FALSE(s.fields.at("finished").required);
  EXPECT_FALSE(s.fields.at("title").required);
  EXPECT_EQ(s.fields.at("state").values, (std::vector<std::string>{"unread", "reading", "read"}));

  // Minimal schema: just the type it is for.
  auto minimal = ParseSchemaNode(json::parse(R"({"schema": {"for": "thing"}})"));
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->for_type, "thing");
  EXPECT_TRUE(minimal->fields.empty());
  EXPECT_TRUE(minimal->allow_unknown_fields);
}

TEST(Schema, ParseErrorsNameThePath) {
  const std::string shape =
      "schema node needs properties {\"schema\": {\"for\": ..., \"fields\": {...}}}";
  EXPECT_EQ(ParseError(json::array()), shape);
  EXPECT_EQ(ParseError(json::object()), shape);
  EXPECT_EQ(ParseError(json::parse(R"({"schema": 5})")), shape);
  EXPECT_EQ(ParseError(json::parse(R"({"other": {}})")), shape);

  const std::string want_for = "schema.for: expected the node type this schema validates";
  EXPECT_EQ(ParseError(json::parse(R"({"schema": {}})")), want_for);
  EXPECT_EQ(ParseError(json::parse(R"({"schema": {"for": ""}})")), want_for);
  EXPECT_EQ(ParseError(json::parse(R"({"schema": {"for": 5}})")), want_for);

  EXPECT_EQ(ParseError(json::parse(R"({"schema": {"for": "b", "allow_unknown_fields": "no"}})")),
            "schema.allow_unknown_fields: expected true or false");
  EXPECT_EQ(ParseError(json::parse(R"({"schema": {"for": "b", "fields": []}})")),
            "schema.fields: expected an object");
  EXPECT_EQ(ParseError(json::parse(R"({"schema": {"for": "b", "fields": {"pages": 5}}})")),
            "schema.fields.pages: expected {\"type\": ...}");
  EXPECT_EQ(ParseError(json::parse(R"({"schema": {"for": "b", "fields": {"pages": {}}}})")),
            "schema.fields.pages: expected {\"type\": ...}");
  EXPECT_EQ(
      ParseError(json::parse(R"({"schema": {"for": "b", "fields": {"pages": {"type": 3}}}})")),
      "schema.fields.pages: expected {\"type\": ...}");
  EXPECT_EQ(ParseError(
                json::parse(R"({"schema": {"for": "b", "fields": {"pages": {"type": "float"}}}})")),
            "schema.fields.pages.type: unknown field type 'float'");
  EXPECT_EQ(ParseError(json::parse(
                R"({"schema": {"for": "b", "fields": {"pages": {"type": "integer",
                    "required": "yes"}}}})")),
            "schema.fields.pages.required: expected true or false");
  EXPECT_EQ(
      ParseError(json::parse(R"({"schema": {"for": "b", "fields": {"state": {"type": "enum"}}}})")),
      "schema.fields.state.values: an enum needs a list of strings");
  EXPECT_EQ(
      ParseError(json::parse(
          R"({"schema": {"for": "b", "fields": {"state": {"type": "enum", "values": []}}}})")),
      "schema.fields.state.values: an enum needs a list of strings");
  EXPECT_EQ(ParseError(json::parse(
                R"({"schema": {"for": "b", "fields": {"state": {"type": "enum",
                    "values": "a"}}}})")),
            "schema.fields.state.values: an enum needs a list of strings");
  EXPECT_EQ(ParseError(json::parse(
                R"({"schema": {"for": "b", "fields": {"state": {"type": "enum",
                    "values": ["a", 1]}}}})")),
            "schema.fields.state.values: expected strings");
}

class UserSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = ParseSchemaNode(BookSchema());
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    book_ = std::move(parsed).value();
  }
  std::string Book(const json& fields) { return Check({{"book", fields}}, book_); }

  TypeSchema book_;
};

TEST_F(UserSchemaTest, RequiredFields) {
  EXPECT_EQ(Check(json::object(), book_), "book.pages: required property missing");
  EXPECT_EQ(Check({{"other", 1}}, book_), "book.pages: required property missing");
  EXPECT_EQ(Book(json::object()), "book.pages: required property missing");
  EXPECT_EQ(Book({{"pages", nullptr}}), "book.pages: required property missing");
  EXPECT_EQ(Book({{"state", "read"}}), "book.pages: required property missing");
  EXPECT_EQ(Book({{"pages", 412}}), "ok");
}

TEST_F(UserSchemaTest, UnknownFieldsRejectedWhenNotAllowed) {
  EXPECT_EQ(Book({{"pages", 1}, {"color", "red"}}),
            "book.color: not a field of the schema for 'book'");
  // Other namespaces are still free.
  EXPECT_EQ(Check({{"book", {{"pages", 1}}}, {"ui", {{"color", "red"}}}}, book_), "ok");

  auto open = ParseSchemaNode(
      json::parse(R"({"schema": {"for": "book", "fields": {"pages": {"type": "integer"}}}})"));
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(Check({{"book", {{"pages", 1}, {"color", "red"}}}}, *open), "ok");
}

TEST_F(UserSchemaTest, EveryFieldType) {
  auto with = [](json extra) {
    json fields = {{"pages", 10}};
    fields.update(extra);
    return fields;
  };
  EXPECT_EQ(Book(with({{"title", "Dune"}})), "ok");
  EXPECT_EQ(Book(with({{"title", 5}})), "book.title: expected a string, got 5");
  EXPECT_EQ(Book(with({{"rating", 4}})), "ok");
  EXPECT_EQ(Book(with({{"rating", 4.5}})), "ok");
  EXPECT_EQ(Book(with({{"rating", "4"}})), "book.rating: expected a number, got \"4\"");
  EXPECT_EQ(Book(with({{"pages", "many"}})), "book.pages: expected an integer, got \"many\"");
  EXPECT_EQ(Book(with({{"pages", 10.5}})), "book.pages: expected an integer, got 10.5");
  EXPECT_EQ(Book(with({{"owned", false}})), "ok");
  EXPECT_EQ(Book(with({{"owned", 0}})), "book.owned: expected true or false, got 0");
  EXPECT_EQ(Book(with({{"tags", json::array({"a", 1})}})), "ok");
  EXPECT_EQ(Book(with({{"tags", "a"}})), "book.tags: expected an array, got \"a\"");
  EXPECT_EQ(Book(with({{"meta", {{"k", "v"}}}})), "ok");
  EXPECT_EQ(Book(with({{"meta", json::array()}})), "book.meta: expected an object, got []");
  EXPECT_EQ(Book(with({{"bought", "2020-01-31"}})), "ok");
  EXPECT_EQ(Book(with({{"bought", "2020-01-32"}})),
            "book.bought: expected a date YYYY-MM-DD, got \"2020-01-32\"");
  EXPECT_EQ(Book(with({{"finished", "2020-01-31T08:00:00Z"}})), "ok");
  EXPECT_EQ(Book(with({{"finished", "1714564800000"}})), "ok");  // plain milliseconds
  EXPECT_EQ(Book(with({{"finished", "soon"}})),
            "book.finished: expected an ISO 8601 date-time, got \"soon\"");
  EXPECT_EQ(Book(with({{"state", "reading"}})), "ok");
  EXPECT_EQ(Book(with({{"state", "lost"}})),
            "book.state: expected one of [unread, reading, read], got \"lost\"");
}

}  // namespace
}  // namespace nodespace::schema
