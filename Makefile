# PGXS build of the extension: the C++ core (src/core) and the PostgreSQL
# layer (src/pg) linked into one module. `make && make install` is all an
# installation needs; CMakeLists.txt builds the core's tests and benchmarks.

EXTENSION = email_verify
MODULE_big = email_verify
DATA = $(wildcard extension/email_verify--*.sql)

CORE_SRCS = $(filter-out %.gen.cpp,$(wildcard src/core/*.cpp src/core/*/*.cpp)) src/core/embedded_lists.gen.cpp
PG_SRCS = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

PG_CPPFLAGS = -Isrc/core -Isrc/pg
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
              -Wno-cast-function-type -Wno-register -fno-omit-frame-pointer -MMD -MP
SHLIB_LINK = -lidn2 -lcares -lssl -lcrypto -lstdc++

# pg_regress suites (sql/*.sql with expected/*.out)
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=email_verify
# isolation suites (specs/*.spec with expected/*.out): concurrent queue claims
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --inputdir=. --load-extension=email_verify


# The server's JIT bitcode would need clang++ at install time; the module
# gains nothing from it. Must precede the include, which tests it.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

src/core/embedded_lists.gen.cpp: $(wildcard data/*.txt) scripts/embed-lists.sh
	scripts/embed-lists.sh data $@

EXTRA_CLEAN = src/core/embedded_lists.gen.cpp $(OBJS:.o=.d)

# Rebuild an object when a header it includes changes (PGXS does not track
# header dependencies by itself; a stale object would break the ODR).
-include $(OBJS:.o=.d)
