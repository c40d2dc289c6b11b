#include "archive_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <stdexcept>

namespace nodespace::testing {

void WriteArchive(const std::string& path, const std::vector<ArchiveEntry>& entries, bool tar) {
  archive* a = archive_write_new();
  if (tar) {
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
  } else {
    archive_write_set_format_zip(a);
  }
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) {
    archive_write_free(a);
    throw std::runtime_error("cannot write " + path);
  }
  for (const ArchiveEntry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type == kArchiveDir       ? AE_IFDIR
                                      : e.type == kArchiveSymlink ? AE_IFLNK
                                                                  : AE_IFREG);
    archive_entry_set_perm(entry, e.type == kArchiveDir ? 0755 : 0644);
    if (e.type == kArchiveSymlink) archive_entry_set_symlink(entry, e.link.c_str());
    archive_entry_set_size(entry,
                           e.type == kArchiveFile ? static_cast<la_int64_t>(e.body.size()) : 0);
    archive_write_header(a, entry);
    if (e.type == kArchiveFile) archive_write_data(a, e.body.data(), e.body.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

}  // namespace nodespace::testing
