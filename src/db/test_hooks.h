// Points where a test can make something happen in the middle of an
// operation that offers it no other way in. Unset (the default) they cost a
// check of an empty std::function. Set them only in tests, and unset them
// before the test ends.
#pragma once

#include <functional>

namespace nodespace::test_hooks {

// Runs between the two transactions that end a bulk load with its text
// index built alongside (FinishBulkLoad), with no transaction open: a test
// commits through another connection there.
extern std::function<void()> between_bulk_load_finish_transactions;

}  // namespace nodespace::test_hooks
