#include "rlforge/data/jpeg.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>
// clang-format on

#include <csetjmp>
#include <cstdlib>
#include <cstring>

#include "rlforge/core/error.h"

namespace rlforge {

namespace {

// libjpeg reports errors through error_exit, which must not return: it jumps
// back to the setjmp of the C-style function below (no C++ objects live in
// those frames), which then returns false with the message.
struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnError(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  (*c->err->format_message)(c, e->message);
  longjmp(e->jump, 1);
}

// Warnings (level -1: corrupt or truncated data, which libjpeg would fill
// in) are kept: a frame that raised one is refused, as Pillow refuses a
// truncated one. Trace messages (levels >= 0) are ignored.
void OnMessage(j_common_ptr c, int level) {
  if (level >= 0) return;
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  if (c->err->num_warnings++ == 0) (*c->err->format_message)(c, e->message);
}

void InitErrors(ErrorManager* e) {
  jpeg_std_error(&e->pub);
  e->pub.error_exit = OnError;
  e->pub.emit_message = OnMessage;
  e->message[0] = '\0';
}

// *out/*size: the caller's buffer on entry; libjpeg writes there and
// replaces it (malloc'ed; the caller frees it) only if it has to grow it,
// when compression finishes.
bool Encode(const uint8_t* pixels, int h, int w, int c, int quality, unsigned char** out, unsigned long* size,
            char* message) {
  jpeg_compress_struct cinfo;
  ErrorManager err;
  InitErrors(&err);
  cinfo.err = &err.pub;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, out, size);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = c;
  cinfo.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels + static_cast<size_t>(cinfo.next_scanline) * w * c);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

// Decodes into out when the image is h x w; else returns false with the
// size found in *got_h, *got_w (message empty).
bool Decode(const uint8_t* bytes, size_t size, int h, int w, int c, uint8_t* out, char* message, int* got_h,
            int* got_w) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  InitErrors(&err);
  cinfo.err = &err.pub;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  // The size before anything is allocated for the image (a damaged header
  // may claim 65000 x 65000).
  *got_h = static_cast<int>(cinfo.image_height);
  *got_w = static_cast<int>(cinfo.image_width);
  if (*got_h != h || *got_w != w) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height && cinfo.err->num_warnings == 0) {
    JSAMPROW row = out + static_cast<size_t>(cinfo.output_scanline) * w * c;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  if (cinfo.err->num_warnings == 0) jpeg_finish_decompress(&cinfo);
  const bool clean = cinfo.err->num_warnings == 0;
  jpeg_destroy_decompress(&cinfo);
  if (!clean) std::memcpy(message, err.message, JMSG_LENGTH_MAX);
  return clean;
}

}  // namespace

bool IsMinariImageSpace(const Space& s) {
  if (s.kind() != SpaceKind::kBox || s.dtype() != DType::kUInt8) return false;
  const auto& shape = s.shape();
  if (shape.size() != 2 && shape.size() != 3) return false;
  if (shape[0] < 32 || shape[1] < 32) return false;
  for (double v : s.low())
    if (v != 0) return false;
  for (double v : s.high())
    if (v != 255) return false;
  return true;
}

std::vector<uint8_t> EncodeJpeg(const uint8_t* pixels, int height, int width, int channels, int quality) {
  RLF_CHECK(channels == 1 || channels == 3, "JPEG frames have 1 or 3 channels, not ", channels);
  // A buffer libjpeg never has to grow (a baseline JPEG of 8-bit samples is
  // far smaller than twice the raw image plus its headers): libjpeg only
  // replaces *out when it grows, so on an error *out is still ours.
  std::vector<uint8_t> buffer(static_cast<size_t>(height) * width * channels * 2 + 65536);
  unsigned char* out = buffer.data();
  unsigned long size = buffer.size();
  char message[JMSG_LENGTH_MAX] = "";
  const bool ok = Encode(pixels, height, width, channels, quality, &out, &size, message);
  RLF_CHECK(ok, "JPEG encoding failed: ", message);
  std::vector<uint8_t> bytes(out, out + size);
  if (out != buffer.data()) std::free(out);
  return bytes;
}

void DecodeJpeg(const uint8_t* bytes, size_t size, int height, int width, int channels, uint8_t* out,
                const std::string& what) {
  RLF_CHECK(channels == 1 || channels == 3, "JPEG frames have 1 or 3 channels, not ", channels);
  RLF_CHECK_ARG(size > 0, what, ": an empty JPEG frame");
  char message[JMSG_LENGTH_MAX] = "";
  int got_h = 0, got_w = 0;
  if (Decode(bytes, size, height, width, channels, out, message, &got_h, &got_w)) return;
  RLF_CHECK_ARG(message[0] == '\0', what, ": not a readable JPEG frame (", message, ": damaged or truncated)");
  throw InvalidArgument(StrCat(what, ": a JPEG frame of ", got_h, "x", got_w, ", want ", height, "x", width));
}

FrameShape ImageFrameShape(const Space& space) {
  const auto& shape = space.shape();
  return {static_cast<int>(shape[0]), static_cast<int>(shape[1]), shape.size() == 3 ? static_cast<int>(shape[2]) : 1};
}

void JpegRoundTrip(const Space& space, uint8_t* frame) {
  const FrameShape f = ImageFrameShape(space);
  const std::vector<uint8_t> jpeg = EncodeJpeg(frame, f.height, f.width, f.channels);
  DecodeJpeg(jpeg.data(), jpeg.size(), f.height, f.width, f.channels, frame, "frame");
}

}  // namespace rlforge
