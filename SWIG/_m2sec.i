/* M2Sec: OpenSSL 3 for Python.  The SWIG module, one %include per OpenSSL area.
 * _lib.i comes first: it holds the typemaps, the error and GIL helpers and the callback
 * helper that every other file uses. */
%module(package="M2Sec") m2sec

%include "_lib.i"
%include "_bio.i"
%include "_rand.i"
%include "_bn.i"
%include "_asn1.i"
%include "_objects.i"
%include "_evp.i"
%include "_aes.i"
%include "_rc4.i"
%include "_rsa.i"
%include "_dsa.i"
%include "_dh.i"
%include "_ec.i"
%include "_x509.i"
%include "_pkcs7.i"
%include "_ocsp.i"
%include "_pkcs12.i"
%include "_cms.i"
%include "_ssl.i"
%include "_srp.i"
%include "_tls.i"
%include "_provider.i"
%include "_engine.i"
%include "_ssh.i"
