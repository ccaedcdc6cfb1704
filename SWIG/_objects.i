/* _objects.i: OpenSSL's object database (NIDs, short and long names, OIDs). */
%{
#include <openssl/objects.h>
%}
M2_OK_AREA(M2_ASN1)

%rename(obj_nid2sn) OBJ_nid2sn;
const char *OBJ_nid2sn(int n);
%rename(obj_nid2ln) OBJ_nid2ln;
const char *OBJ_nid2ln(int n);
%rename(obj_sn2nid) OBJ_sn2nid;
int OBJ_sn2nid(const char *s);
%rename(obj_ln2nid) OBJ_ln2nid;
int OBJ_ln2nid(const char *s);
%rename(obj_txt2nid) OBJ_txt2nid;
int OBJ_txt2nid(const char *s);
%rename(obj_obj2nid) OBJ_obj2nid;
int OBJ_obj2nid(const ASN1_OBJECT *o);
%rename(obj_nid2obj) OBJ_nid2obj;
ASN1_OBJECT *OBJ_nid2obj(int n);
%rename(obj_cmp) OBJ_cmp;
int OBJ_cmp(const ASN1_OBJECT *a, const ASN1_OBJECT *b);
%rename(obj_dup) OBJ_dup;
ASN1_OBJECT *OBJ_dup(const ASN1_OBJECT *o);

M2_RETURNS_NONNULL(OBJ_txt2obj)
/* A new ASN1_OBJECT for a name or dotted OID (only OIDs if no_name); raises if unknown. */
%rename(obj_txt2obj) OBJ_txt2obj;
ASN1_OBJECT *OBJ_txt2obj(const char *s, int no_name);
%inline %{
/* The object's name (or its dotted OID if no_name or if it has no name), as bytes. */
static PyObject *obj_obj2txt(const ASN1_OBJECT *o, int no_name) {
    char small[128], *buf = small;
    PyObject *v;
    int n = OBJ_obj2txt(small, sizeof(small), o, no_name);
    if (n < 0) return m2_raise_msg(M2_ASN1, "OBJ_obj2txt failed");
    if (n >= (int)sizeof(small)) {
        buf = PyMem_Malloc(n + 1);
        if (!buf) return PyErr_NoMemory();
        OBJ_obj2txt(buf, n + 1, o, no_name);
    }
    v = PyBytes_FromStringAndSize(buf, n);
    if (buf != small) PyMem_Free(buf);
    return v;
}
%}
/* Create a new object in OpenSSL's table; its NID, or raises. */
%rename(obj_create) OBJ_create;
m2_ok OBJ_create(const char *oid, const char *sn, const char *ln);
