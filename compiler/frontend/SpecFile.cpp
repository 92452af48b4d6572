//===- compiler/frontend/SpecFile.cpp - Reading and writing model files ----===//

#include "compiler/frontend/SpecFile.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace ninc {

namespace pb = google::protobuf;

namespace {

Expected<std::string> readWholeFile(const std::string &path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return Error{path + ": error: cannot open model file: " + std::strerror(errno)};
  if (S_ISDIR(st.st_mode))
    return Error{path + ": error: expected a model file, found a directory"};
  if (st.st_size > kMaxModelFileBytes)
    return Error{path + ": error: expected a model file of at most 1 GiB, found " +
                 std::to_string(st.st_size) + " bytes"};
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error{path + ": error: cannot open model file: " + std::strerror(errno)};
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad())
    return Error{path + ": error: cannot read model file: " + std::strerror(errno)};
  return bytes.str();
}

/// Text if every byte is printable, whitespace or part of UTF-8; binary
/// protobuf almost always has control bytes (field tags 0x08, 0x0a, ...).
SpecFormat sniffFormat(const std::string &bytes) {
  for (unsigned char c : bytes)
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v')
      return SpecFormat::Binary;
  return SpecFormat::Text;
}

/// Collects text-format syntax errors with protobuf's line:column (1-based).
class TextErrors : public pb::io::ErrorCollector {
public:
  explicit TextErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string &message) override {
    if (!first_.empty())
      return;
    first_ = path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) +
             ": error: " + message;
  }
  const std::string &first() const { return first_; }

private:
  std::string path_;
  std::string first_;
};

/// Routes protobuf's own log lines (e.g. invalid UTF-8 in a string field)
/// into our message instead of stderr while a parse runs.
class ProtobufLogCapture {
public:
  ProtobufLogCapture() { previous_ = pb::SetLogHandler(&handle); captured().clear(); }
  ~ProtobufLogCapture() { pb::SetLogHandler(previous_); }
  static std::string &captured() {
    static thread_local std::string text;
    return text;
  }

private:
  static void handle(pb::LogLevel, const char *, int, const std::string &message) {
    if (captured().empty())
      captured() = message;
  }
  pb::LogHandler *previous_;
};

/// Binary files may carry fields this schema does not know (newer writer,
/// or random bytes that happen to parse): refuse them, naming the field.
Status checkNoUnknownFields(const pb::Message &msg, const std::string &where) {
  const pb::Reflection *refl = msg.GetReflection();
  const pb::UnknownFieldSet &unknown = refl->GetUnknownFields(msg);
  if (unknown.field_count() > 0)
    return Error{where + ": expected only fields of " + msg.GetDescriptor()->full_name() +
                 ", found unknown field number " + std::to_string(unknown.field(0).number()) +
                 " (not a ninc model, or written by a newer ninc)"};
  std::vector<const pb::FieldDescriptor *> fields;
  refl->ListFields(msg, &fields);
  for (const pb::FieldDescriptor *fd : fields) {
    if (fd->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE)
      continue;
    if (fd->is_repeated()) {
      for (int i = 0, n = refl->FieldSize(msg, fd); i < n; ++i)
        if (Status s = checkNoUnknownFields(refl->GetRepeatedMessage(msg, fd, i),
                                            where + "." + fd->name() + "[" +
                                                std::to_string(i) + "]");
            !s)
          return s;
    } else if (Status s = checkNoUnknownFields(refl->GetMessage(msg, fd), where + "." + fd->name());
               !s) {
      return s;
    }
  }
  return Status::ok();
}

} // namespace

SpecFormat formatFromExtension(const std::string &path) {
  auto endsWith = [&](const char *ext) {
    size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (endsWith(".pbtxt") || endsWith(".txt") || endsWith(".prototxt") || endsWith(".textproto"))
    return SpecFormat::Text;
  if (endsWith(".pb") || endsWith(".bin") || endsWith(".binpb"))
    return SpecFormat::Binary;
  if (endsWith(".onnx"))
    return SpecFormat::Onnx;
  return SpecFormat::Auto;
}

Expected<std::unique_ptr<SpecFile>> readSpecFile(const std::string &path, SpecFormat format) {
  Expected<std::string> bytes = readWholeFile(path);
  if (!bytes)
    return bytes.error();
  if (bytes->empty())
    return Error{path + ": error: expected a ninc.spec.Model, found an empty file"};

  if (format == SpecFormat::Auto)
    format = formatFromExtension(path);
  if (format == SpecFormat::Onnx)
    return readOnnxFile(path, *bytes);
  auto file = std::make_unique<SpecFile>();
  file->path = path;
  if (format == SpecFormat::Auto)
    format = sniffFormat(*bytes);
  file->format = format;

  ProtobufLogCapture capture;
  if (format == SpecFormat::Text) {
    TextErrors errors(path);
    pb::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    file->locations = std::make_unique<pb::TextFormat::ParseInfoTree>();
    parser.WriteLocationsTo(file->locations.get());
    if (!parser.ParseFromString(*bytes, &file->message)) {
      std::string msg = errors.first();
      if (msg.empty())
        msg = path + ": error: not a valid text ninc.spec.Model" +
              (capture.captured().empty() ? "" : ": " + capture.captured());
      return Error{msg};
    }
    return file;
  }

  if (!file->message.ParseFromString(*bytes)) {
    std::string why = capture.captured().empty() ? "" : " (" + capture.captured() + ")";
    return Error{path + ": error: expected a binary ninc.spec.Model, found bytes protobuf cannot "
                 "parse" + why + "; a text model should be named *.pbtxt"};
  }
  if (Status s = checkNoUnknownFields(file->message, "model"); !s)
    return Error{path + ": error: " + s.message()};
  return file;
}

std::string SpecFile::locate(const FieldPath &fieldPath) const {
  if (!locations)
    return path;
  const pb::Descriptor *desc = spec::Model::descriptor();
  const pb::TextFormat::ParseInfoTree *tree = locations.get();
  pb::TextFormat::ParseLocation best;
  for (const FieldRef &ref : fieldPath) {
    const pb::FieldDescriptor *fd = desc ? desc->FindFieldByName(ref.field) : nullptr;
    if (!fd || !tree)
      break;
    int index = fd->is_repeated() ? std::max(ref.index, 0) : -1;
    pb::TextFormat::ParseLocation loc = tree->GetLocation(fd, index);
    if (loc.line < 0)
      break;
    best = loc;
    desc = fd->message_type();
    tree = desc ? tree->GetTreeForNested(fd, index) : nullptr;
  }
  if (best.line < 0)
    return path;
  return path + ":" + std::to_string(best.line + 1) + ":" + std::to_string(best.column + 1);
}

Status writeSpecFile(const spec::Model &message, const std::string &path, SpecFormat format) {
  std::string bytes;
  if (format == SpecFormat::Text) {
    pb::TextFormat::Printer printer;
    if (!printer.PrintToString(message, &bytes))
      return Error{path + ": error: cannot print the model as text"};
  } else if (!message.SerializeToString(&bytes)) {
    return Error{path + ": error: cannot serialise the model"};
  }
  return writeFileAtomically(path, bytes);
}

Status writeFileAtomically(const std::string &path, const std::string &bytes) {
  // Write beside the target, then rename: the output is complete or absent.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0)
    return Error{path + ": error: cannot create output file: " + std::strerror(errno)};
  const char *p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      std::remove(tmp.c_str());
      return Error{path + ": error: cannot write output file: " + why};
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  fchmod(fd, 0644);
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Error{path + ": error: cannot write output file: " + why};
  }
  return Status::ok();
}

Expected<Model> loadModel(const std::string &path, SpecFormat format) {
  Expected<std::unique_ptr<SpecFile>> file = readSpecFile(path, format);
  if (!file)
    return file.error();
  return validateSpec(**file);
}

void printError(const std::string &message) {
  if (message.find("error: ") != std::string::npos)
    std::fprintf(stderr, "%s\n", message.c_str());
  else
    std::fprintf(stderr, "ninc: error: %s\n", message.c_str());
}

std::optional<Model> loadModelOrReport(const std::string &path) {
  Expected<Model> model = loadModel(path);
  if (!model) {
    printError(model.message());
    return std::nullopt;
  }
  return std::move(*model);
}

Status saveModel(const Model &model, const std::string &path, SpecFormat format) {
  spec::Model message;
  if (model.specBytes.empty() || !message.ParseFromString(model.specBytes))
    return Error{path + ": error: cannot save model '" + model.name +
                 "': it carries no spec (was it read by loadModel?)"};
  message.MergeFromString(encodeWeights(model));
  if (format == SpecFormat::Auto)
    format = formatFromExtension(path);
  return writeSpecFile(message, path, format == SpecFormat::Text ? format : SpecFormat::Binary);
}

std::string encodeWeights(const Model &model) {
  spec::Model message;
  for (const TensorData &t : model.weights) {
    spec::Tensor *w = message.add_weights();
    w->set_name(t.name);
    w->mutable_shape()->Add(t.shape.begin(), t.shape.end());
    w->mutable_data()->Add(t.data.begin(), t.data.end());
  }
  return message.SerializeAsString();
}

Status convertModelFile(const std::string &input, const std::string &output,
                        const ConvertOptions &options) {
  Expected<std::unique_ptr<SpecFile>> file = readSpecFile(input, options.from);
  if (!file)
    return file.error();
  if (options.validate)
    if (Expected<Model> model = validateSpec(**file); !model)
      return model.error();
  SpecFormat to = options.to != SpecFormat::Auto ? options.to : formatFromExtension(output);
  if (to == SpecFormat::Auto)
    return Error{output + ": error: expected an output name ending in .pbtxt (text), .pb "
                 "(binary) or .onnx, or --to text|binary|onnx"};
  if (to == SpecFormat::Onnx) {
    Expected<Model> model = validateSpec(**file);
    if (!model)
      return model.error();
    return exportOnnx(*model, output);
  }
  return writeSpecFile((*file)->message, output, to);
}

} // namespace ninc
