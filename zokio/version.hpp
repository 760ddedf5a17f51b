// ZOKIO_VERSION: XXYYZZ (major, minor, patch).
#ifndef ZOKIO_VERSION_HPP
#define ZOKIO_VERSION_HPP
#define ZOKIO_VERSION 100  // 0.1.0
#endif
