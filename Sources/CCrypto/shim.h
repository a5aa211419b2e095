/* OpenSSL's libcrypto, for SHA-256 only (EVP digest API: its SHA-NI / AVX2 / AVX assembly paths). */
#include <openssl/evp.h>
