#pragma once

#include "tools/command.h"

namespace siteledger::tools {

// `siteledger backup DIR [--keep N] [--json] [server flags]`: an online,
// incremental backup of the region through POST /admin/backups (scope
// backup) into DIR, a folder on the server's machine; prints the backup's
// id and figures. `siteledger backup --list DIR`: offline, reads DIR only,
// prints its backups. kOk; kServerError when the server refused or could
// not be reached, or DIR cannot be read; kUsageError for a bad command line
// (a relative DIR is refused before anything is sent).
int Backup(const Invocation& in);
extern const char kBackupHelp[];

// `siteledger restore-backup DIR --data DATADIR --master-key FILE
// [--key-store PATH] [--backup-id N]`: offline; restores a backup into a new
// data folder and key store (storage::RestoreBackup) and prints what it
// did. kOk; kUsageError when the target is not empty, the master key is not
// the backup's, or there is no such backup (nothing written);
// kServerError when reading or writing failed.
int RestoreBackup(const Invocation& in);
extern const char kRestoreBackupHelp[];

}  // namespace siteledger::tools
