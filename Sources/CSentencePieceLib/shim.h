/* Intentionally empty: sentencepiece is C++; see Sources/CSentencePiece for the extern "C" shim. */
