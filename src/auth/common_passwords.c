/* common_passwords.c — a built-in list of passwords too common to accept (8+ characters;
 * shorter ones fail the length rule anyway). Sorted, lower-case, for bsearch. */
#include "tollgate/password.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const common[] = {
	"00000000", "00000000a", "11111111", "11111111a", "11223344", "12121212",
	"123123123", "12341234", "12345678", "123456789", "1234567890", "1234567890a",
	"123456789a", "12345678a", "1234567a", "1234567q", "1234abcd", "1234qwer",
	"123654789", "123qweasd", "147258369", "159753456", "1q2w3e4r", "1q2w3e4r5t",
	"1q2w3e4r5t6y", "1qaz2wsx", "1qazxsw2", "22222222", "33333333", "44444444",
	"55555555", "66666666", "741852963", "77777777", "87654321", "88888888",
	"987654321", "99999999", "999999999", "a1b2c3d4", "aaaaaaaa", "abc12345",
	"abcd1234", "abcdefgh", "admin123", "adminadmin", "administrator", "andrew12",
	"arsenal1", "asdf1234", "asdfasdf", "asdfghjk", "asdfghjkl", "ashley12",
	"august12", "autumn12", "baseball", "baseball1", "batman12", "buster12",
	"butterfly", "changeme", "charlie1", "cheese12", "chelsea1", "chocolate",
	"computer", "contraseña", "corvette", "danielle", "database", "december",
	"default1", "demo1234", "diamond1", "dragon12", "football", "football1",
	"freedom1", "george12", "guest123", "harley12", "hello123", "hockey12",
	"hunter12", "iloveyou", "iloveyou1", "iloveyou2", "internet", "internet1",
	"ironman1", "january1", "jennifer", "jessica1", "jordan23", "killer12",
	"letmein1", "letmein123", "letmeinnow", "liverpool", "lovelove", "loveyou1",
	"manager1", "master12", "maverick", "mercedes", "michael1", "michelle",
	"midnight", "monkey12", "motdepasse", "mustang1", "mysql123", "nicole12",
	"november", "october1", "oracle12", "p@ssw0rd", "p@ssword", "pa$$word",
	"parola123", "passw0rd", "password", "password!", "password0", "password01",
	"password1", "password12", "password123", "password2", "passwort", "passwort1",
	"pokemon1", "postgres", "princess", "q1w2e3r4", "q1w2e3r4t5", "qazwsx123",
	"qazwsxedc", "qweasdzxc", "qwer1234", "qwerty01", "qwerty11", "qwerty12",
	"qwerty123", "qwerty1234", "qwertyui", "qwertyuiop", "ranger12", "rootroot",
	"samantha", "sample12", "secret123", "senha123", "server12", "service1",
	"shadow12", "soccer12", "spiderman", "spring12", "starwars", "starwars1",
	"summer12", "sunshine", "superman", "support1", "system12", "test1234",
	"tester12", "testtest", "thomas12", "toortoor", "trustno1", "victoria",
	"welcome1", "welcome123", "whatever", "winter12", "zaq12wsx", "zxcvbnm1",
	"zxcvbnm123", "zxcvbnma",
};

static int cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

bool password_is_common(const char *pw)
{
	char lower[129];
	size_t n = strlen(pw);
	if (n >= sizeof(lower))
		return false;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)pw[i]);
	return bsearch(lower, common, sizeof(common) / sizeof(common[0]), sizeof(common[0]), cmp) != NULL;
}
