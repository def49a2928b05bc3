# Fails if a file includes another folder's internal headers.
#
# "<folder>/internal/..." may be included only by files under <folder>/ and
# by that folder's tests, tests/<folder>/. The fuzz targets (tests/fuzz/)
# are white-box tests of every folder's decoders, and may include any. Run as a ctest test:
#   cmake -DROOT=<source dir> -P check_internal_includes.cmake

cmake_minimum_required(VERSION 3.25)

if(NOT ROOT)
  message(FATAL_ERROR "pass -DROOT=<source dir>")
endif()

# Known offenders, "file: header", to be removed as each is fixed; anything
# not listed here fails the check.
set(known_offenders "")

file(GLOB_RECURSE files RELATIVE "${ROOT}"
  "${ROOT}/*.h" "${ROOT}/*.hpp" "${ROOT}/*.cc" "${ROOT}/*.cpp")
set(offenders "")
foreach(file IN LISTS files)
  if(file MATCHES "^(build|\\.git)/")
    continue()
  endif()
  file(STRINGS "${ROOT}/${file}" includes
       REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<][^\">]*/internal/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[\"<]([^\">]*)[\">].*$"
                         "\\1" header "${line}")
    string(REGEX REPLACE "/internal/.*$" "" owner "${header}")
    if(file MATCHES "^${owner}/" OR file MATCHES "^tests/${owner}/" OR
       file MATCHES "^tests/fuzz/")
      continue()
    endif()
    if("${file}: ${header}" IN_LIST known_offenders)
      continue()
    endif()
    list(APPEND offenders "${file} includes ${header}")
  endforeach()
endforeach()

if(offenders)
  list(JOIN offenders "\n  " text)
  message(FATAL_ERROR
    "internal headers included from outside their folder:\n  ${text}\n"
    "Only <folder>/ and tests/<folder>/ may include <folder>/internal/.")
endif()
message(STATUS "internal headers stay in their folders")
