# The Debian package: `cpack -G DEB` in the build folder (or
# `cmake --build <build> --target package`) writes
# siteledger_<version>_<arch>.deb with siteledgerd and siteledger
# (install rules in server/ and tools/), the systemd unit, the config file
# (a conffile) and the maintainer scripts that create the siteledger user.
# tests/package checks it with lintian and starts what it holds.
include(GNUInstallDirs)

set(_deploy ${PROJECT_SOURCE_DIR}/deploy)

# Debian 12 keeps units in /lib/systemd/system (lintian warns elsewhere).
install(FILES ${_deploy}/systemd/siteledgerd.service
  DESTINATION /lib/systemd/system COMPONENT server)
install(FILES ${_deploy}/siteledgerd.conf
  DESTINATION /etc/siteledger COMPONENT server)

# Debian's policy: a copyright file and a changelog, gzip -9n (no timestamp,
# so that the package is reproducible), in /usr/share/doc/<package>.
file(STRINGS ${_deploy}/debian/changelog _changelog_head LIMIT_COUNT 1)
if(NOT _changelog_head MATCHES "^siteledger \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "deploy/debian/changelog's first entry is not version "
                      "${PROJECT_VERSION}: add an entry for it")
endif()
# Made at configure time (re-run when a source changes), so that the
# package needs no build target of its own.
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/packaging)
function(siteledger_gzip source output)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
  execute_process(COMMAND gzip -9n -c ${source}
    OUTPUT_FILE ${output} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "gzip ${source}: ${result}")
  endif()
endfunction()
set(_changelog_gz ${PROJECT_BINARY_DIR}/packaging/changelog.gz)
siteledger_gzip(${_deploy}/debian/changelog ${_changelog_gz})
# The manual pages: short, pointing at --help, which lists the flags.
siteledger_gzip(${_deploy}/debian/siteledgerd.8
  ${PROJECT_BINARY_DIR}/packaging/siteledgerd.8.gz)
siteledger_gzip(${_deploy}/debian/siteledger.1
  ${PROJECT_BINARY_DIR}/packaging/siteledger.1.gz)
install(FILES ${PROJECT_BINARY_DIR}/packaging/siteledgerd.8.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT server)
install(FILES ${PROJECT_BINARY_DIR}/packaging/siteledger.1.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
install(FILES ${_deploy}/debian/copyright ${_changelog_gz}
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/siteledger COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/README.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/siteledger RENAME README
  COMPONENT server)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME siteledger)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "siteledger maintainers <siteledger@siteledger.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "event-sourced storage server")
set(CPACK_PACKAGE_DESCRIPTION
  "siteledgerd keeps each tenant's changes as an append-only event log in\n"
  "RocksDB and serves views of them over HTTP, one data-residency region\n"
  "per process. The package holds siteledgerd, its systemd unit and\n"
  "config file, and the siteledger command-line tool.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The libraries' packages from dpkg-shlibdeps, and what the maintainer
# scripts call: adduser, deb-systemd-helper and deb-systemd-invoke.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${_deploy}/debian/conffiles
  ${_deploy}/debian/postinst
  ${_deploy}/debian/prerm
  ${_deploy}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
