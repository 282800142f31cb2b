# Shared compile options for every eddy target.
add_library(eddy_build_options INTERFACE)
target_compile_options(eddy_build_options INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(EDDY_SANITIZE STREQUAL "address")
  target_compile_options(eddy_build_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(eddy_build_options INTERFACE -fsanitize=address,undefined)
elseif(EDDY_SANITIZE STREQUAL "thread")
  target_compile_options(eddy_build_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(eddy_build_options INTERFACE -fsanitize=thread)
elseif(NOT EDDY_SANITIZE STREQUAL "")
  message(FATAL_ERROR "EDDY_SANITIZE must be '', 'address' or 'thread', not '${EDDY_SANITIZE}'")
endif()

# eddy_add_module(NAME <name> SOURCES ... DEPS ...): a static library eddy_<name>,
# alias eddy::<name>, seeing the public headers and src/.
function(eddy_add_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(eddy_${M_NAME} STATIC ${M_SOURCES})
  add_library(eddy::${M_NAME} ALIAS eddy_${M_NAME})
  target_include_directories(eddy_${M_NAME}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(eddy_${M_NAME} PUBLIC ${M_DEPS} PRIVATE $<BUILD_INTERFACE:eddy_build_options>)
  set_target_properties(eddy_${M_NAME} PROPERTIES EXPORT_NAME ${M_NAME})
  # The public headers need C++20, so programs linking a module (also an installed one) get it.
  target_compile_features(eddy_${M_NAME} PUBLIC cxx_std_20)
  # Every module is installed and exported as eddy::<name> (see the top-level CMakeLists.txt).
  set_property(GLOBAL APPEND PROPERTY EDDY_MODULE_TARGETS eddy_${M_NAME})
endfunction()

# eddy_add_test(NAME <name> SOURCES ... LIBS ...): one GoogleTest binary registered with ctest.
function(eddy_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main eddy_build_options)
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
endfunction()
