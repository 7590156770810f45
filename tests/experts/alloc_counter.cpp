// The counting global operator new of tests/runtime, linked into this binary too.
#include "runtime/alloc_counter.cpp"
