/* Open JTalk's njd_set_digit step (numbers and counters), see njd_digit.c. */
#ifndef SBV2_NJD_DIGIT_H
#define SBV2_NJD_DIGIT_H

#include "text/njd.h"

extern const char *const njd_digit_numeral_list1[];
extern const char *const njd_digit_numeral_list2[];
extern const char *const njd_digit_numeral_list3[];
extern const char *const njd_digit_numeral_list4[];
extern const char *const njd_digit_numeral_list5[];
extern const char *const njd_digit_numeral_list6[];
extern const char *const njd_digit_numeral_list7[];
extern const char *const njd_digit_numeral_list8[];
extern const char *const njd_digit_numeral_list9[];
extern const char *const njd_digit_numeral_list10[];
extern const char *const njd_digit_numeral_list11[];
extern const char *const njd_digit_numerative_class1b[];
extern const char *const njd_digit_conv_table1b[];
extern const char *const njd_digit_numerative_class1c1[];
extern const char *const njd_digit_conv_table1c1[];
extern const char *const njd_digit_numerative_class1c2[];
extern const char *const njd_digit_conv_table1c2[];
extern const char *const njd_digit_numerative_class1d[];
extern const char *const njd_digit_conv_table1d[];
extern const char *const njd_digit_numerative_class1e[];
extern const char *const njd_digit_conv_table1e[];
extern const char *const njd_digit_numerative_class1f[];
extern const char *const njd_digit_conv_table1f[];
extern const char *const njd_digit_numerative_class1g[];
extern const char *const njd_digit_conv_table1g[];
extern const char *const njd_digit_numerative_class1h[];
extern const char *const njd_digit_conv_table1h[];
extern const char *const njd_digit_numerative_class1i[];
extern const char *const njd_digit_conv_table1i[];
extern const char *const njd_digit_numerative_class1j[];
extern const char *const njd_digit_conv_table1j[];
extern const char *const njd_digit_numerative_class1k[];
extern const char *const njd_digit_conv_table1k[];
extern const char *const njd_digit_numerative_class2b[];
extern const char *const njd_digit_conv_table2b[];
extern const char *const njd_digit_numerative_class2c[];
extern const char *const njd_digit_conv_table2c[];
extern const char *const njd_digit_numerative_class2d[];
extern const char *const njd_digit_conv_table2d[];
extern const char *const njd_digit_numerative_class2e[];
extern const char *const njd_digit_conv_table2e[];
extern const char *const njd_digit_numerative_class2f[];
extern const char *const njd_digit_conv_table2f[];
extern const char *const njd_digit_voiced_sound_symbol_list[];
extern const char *const njd_digit_semivoiced_sound_symbol_list[];
extern const char *const njd_digit_numerative_class3[];
extern const char *const njd_digit_conv_table3[];
extern const char *const njd_digit_conv_table4[];
extern const char *const njd_digit_conv_table5[];
extern const char *const njd_digit_conv_table6[];

/* njd_set_digit on the word list (NULL fields = unset). 0, or -1 when out of memory. */
int njd_set_digit(njd_list *l);

#endif
