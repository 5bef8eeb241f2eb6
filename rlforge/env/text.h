// rlforge/env/text.h — the token convention of the text envs (TextAddition-v0,
// TextSort-v0, ...; rlforge/envs/text/) and of the language-model agents that
// play them (rlforge/algos/lm/).
//
// A character tokenizer with a fixed vocabulary of 98 tokens:
//   0 <pad>, 1 <bos>, 2 <eos>, and 3 + (c - 32) for each printable ASCII
//   character c (' ' .. '~').
// Every task in rlforge is written in printable ASCII, so no text is ever
// split into unknown pieces, a vocabulary file is not needed, and a model's
// size is set by its width and depth rather than by an embedding table of
// tens of thousands of rows (BPE vocabularies would dominate a 0.1M-parameter
// model). A text env's observation is a row of `context` token ids: <bos>,
// the prompt, the response so far, then <pad> to the end; its action is the
// next token, Discrete(96, start=2): <eos> or a printable character.
#ifndef RLFORGE_ENV_TEXT_H_
#define RLFORGE_ENV_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace rlforge::text {

inline constexpr int64_t kPad = 0;
inline constexpr int64_t kBos = 1;
inline constexpr int64_t kEos = 2;
inline constexpr int64_t kVocabSize = 98;
// The first token an env accepts as an action (<eos>) and how many there are.
inline constexpr int64_t kFirstAction = kEos;
inline constexpr int64_t kNumActions = kVocabSize - kFirstAction;

// Token of a printable ASCII character; InvalidArgument naming it otherwise.
int64_t Encode(char c);
std::vector<int64_t> Encode(const std::string& s);
// Text of tokens: characters for printable tokens, nothing for <pad>/<bos>,
// and decoding stops at <eos> (or at the first <pad> after text).
std::string Decode(const int64_t* tokens, int64_t n);
inline std::string Decode(const std::vector<int64_t>& t) { return Decode(t.data(), static_cast<int64_t>(t.size())); }
// "<eos>", "<pad>", "<bos>" or the character.
std::string TokenName(int64_t token);
// Number of tokens before the first <pad> of an observation row.
int64_t Length(const int64_t* row, int64_t context);
// Those tokens (at least the first: an observation starts with <bos>).
std::vector<int64_t> Prefix(const int64_t* row, int64_t context);

}  // namespace rlforge::text

#endif  // RLFORGE_ENV_TEXT_H_
