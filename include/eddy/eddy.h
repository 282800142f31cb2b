// Everything a program that defines Eddy jobs needs.
#pragma once

#include "eddy/args.h"
#include "eddy/clock.h"
#include "eddy/config.h"
#include "eddy/data_stream.h"
#include "eddy/environment.h"
#include "eddy/error.h"
#include "eddy/format.h"
#include "eddy/functions.h"
#include "eddy/job_result.h"
#include "eddy/key.h"
#include "eddy/operator.h"
#include "eddy/sink.h"
#include "eddy/sinks.h"
#include "eddy/source.h"
#include "eddy/sources.h"
#include "eddy/time.h"
