# Writes OUT, a C file holding IN's bytes as sbv2_page_html (the web page is
# part of the binary: no files to install next to it).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from server/web/index.html by server/web/embed.cmake */\n#include <stddef.h>\nconst unsigned char sbv2_page_html[] = {${body} 0};\nconst size_t sbv2_page_html_len = ${len};\n")
