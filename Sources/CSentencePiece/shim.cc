// The only C++ in the package: a thin, exception-safe C face for sentencepiece.
#include "csentencepiece.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <exception>
#include <string>
#include <vector>

struct csp_processor {
    sentencepiece::SentencePieceProcessor impl;
};

namespace {
thread_local std::string last_error;

void set_error(const std::string &message) { last_error = message; }
}  // namespace

extern "C" {

csp_processor *csp_load_from_bytes(const void *bytes, size_t byte_count) {
    try {
        auto *processor = new csp_processor();
        auto status = processor->impl.LoadFromSerializedProto(
            std::string(static_cast<const char *>(bytes), byte_count));
        if (!status.ok()) {
            set_error("sentencepiece: " + status.ToString());
            delete processor;
            return nullptr;
        }
        return processor;
    } catch (const std::exception &error) {
        set_error(std::string("sentencepiece: ") + error.what());
    } catch (...) {
        set_error("sentencepiece: unknown C++ exception");
    }
    return nullptr;
}

void csp_free(csp_processor *processor) { delete processor; }

int csp_encode(csp_processor *processor, const char *text, size_t text_byte_count, int32_t *ids,
               size_t capacity, size_t *count) {
    try {
        std::vector<int> pieces;
        auto status = processor->impl.Encode(std::string(text, text_byte_count), &pieces);
        if (!status.ok()) {
            set_error("sentencepiece: " + status.ToString());
            return -1;
        }
        *count = pieces.size();
        for (size_t i = 0; i < pieces.size() && i < capacity; ++i) ids[i] = pieces[i];
        return 0;
    } catch (const std::exception &error) {
        set_error(std::string("sentencepiece: ") + error.what());
    } catch (...) {
        set_error("sentencepiece: unknown C++ exception");
    }
    return -1;
}

int csp_id_to_piece(csp_processor *processor, int32_t id, char *buffer, size_t capacity) {
    try {
        if (id < 0 || id >= processor->impl.GetPieceSize()) {
            set_error("sentencepiece: id " + std::to_string(id) + " out of range");
            return -1;
        }
        const std::string &piece = processor->impl.IdToPiece(id);
        if (capacity == 0) return static_cast<int>(piece.size());
        size_t n = piece.size() < capacity - 1 ? piece.size() : capacity - 1;
        std::memcpy(buffer, piece.data(), n);
        buffer[n] = '\0';
        return static_cast<int>(piece.size());
    } catch (const std::exception &error) {
        set_error(std::string("sentencepiece: ") + error.what());
    } catch (...) {
        set_error("sentencepiece: unknown C++ exception");
    }
    return -1;
}

int32_t csp_piece_to_id(csp_processor *processor, const char *piece) {
    try {
        return processor->impl.PieceToId(piece);
    } catch (...) {
        set_error("sentencepiece: PieceToId failed");
        return -1;
    }
}

int32_t csp_vocab_size(csp_processor *processor) { return processor->impl.GetPieceSize(); }
int32_t csp_eos_id(csp_processor *processor) { return processor->impl.eos_id(); }
int32_t csp_pad_id(csp_processor *processor) { return processor->impl.pad_id(); }
int32_t csp_unk_id(csp_processor *processor) { return processor->impl.unk_id(); }

const char *csp_last_error(void) { return last_error.c_str(); }

}  // extern "C"
