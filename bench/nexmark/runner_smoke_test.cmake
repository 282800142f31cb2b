# Smoke test of eddy-nexmark (ctest nexmark_runner_smoke): runs one query with --json and
# checks the fields of its JSON object, then runs --all into a fresh folder and checks the
# files it writes. -DRUNNER=<path to eddy-nexmark> -DWORK_DIR=<scratch folder>.
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

execute_process(COMMAND "${RUNNER}" --query q0 --events 20000 --json
  OUTPUT_VARIABLE json ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "eddy-nexmark --query q0 exited with ${status}:\n${errors}")
endif()
foreach(field benchmark query events parallelism seconds events_per_second
        events_per_second_per_core baseline_events_per_second ratio peak_rss_bytes
        baseline_peak_rss_bytes results baseline_results target_events_per_second_per_core
        target_met)
  string(JSON value ERROR_VARIABLE missing GET "${json}" ${field})
  if(missing)
    message(FATAL_ERROR "the JSON output lacks '${field}': ${json}")
  endif()
endforeach()
string(JSON query GET "${json}" query)
string(JSON events GET "${json}" events)
string(JSON results GET "${json}" results)
string(JSON baseline_results GET "${json}" baseline_results)
if(NOT query STREQUAL "q0" OR NOT events EQUAL 20000)
  message(FATAL_ERROR "unexpected query or events: ${json}")
endif()
if(results LESS_EQUAL 0 OR NOT results EQUAL baseline_results)
  message(FATAL_ERROR "q0: the engine emitted ${results} results, the baseline ${baseline_results}")
endif()

# A bad option is a usage error (exit status 2).
execute_process(COMMAND "${RUNNER}" --query q0 --no-such-option 1
  OUTPUT_QUIET ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 2 OR NOT errors MATCHES "unknown option --no-such-option")
  message(FATAL_ERROR "a bad option gave status ${status}:\n${errors}")
endif()

set(out "${WORK_DIR}/all")
execute_process(COMMAND "${RUNNER}" --all --events 5000 --out "${out}"
  OUTPUT_VARIABLE table ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "eddy-nexmark --all exited with ${status}:\n${errors}")
endif()
foreach(file results.md results.json chart.svg)
  if(NOT EXISTS "${out}/${file}")
    message(FATAL_ERROR "eddy-nexmark --all did not write ${out}/${file}")
  endif()
endforeach()
file(READ "${out}/results.md" md)
if(NOT md MATCHES "\\| q0 \\|")
  message(FATAL_ERROR "results.md has no row for q0:\n${md}")
endif()
file(READ "${out}/chart.svg" svg)
if(NOT svg MATCHES "^<svg" OR NOT svg MATCHES "</svg>")
  message(FATAL_ERROR "chart.svg is not an SVG document")
endif()
file(READ "${out}/results.json" all)
string(JSON count LENGTH "${all}" queries)
if(count LESS 1)
  message(FATAL_ERROR "results.json lists no query")
endif()
