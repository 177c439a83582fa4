/* xml.c: libxml2 set up for hostile input (see xml.h). */
#include "common/xml.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <limits.h>
#include <pthread.h>

#include "common/err.h"

#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* libxml2 wants xmlInitParser() called once before threads use it. */
static void xml_init(void)
{
	xmlInitParser();
}

/* Swallows libxml2's error reports for this context; the caller only needs the outcome. The
 * handler's signature gained a const in libxml2 2.12. */
#if LIBXML_VERSION >= 21200
static void silent_error(void *ctx, const xmlError *error)
#else
static void silent_error(void *ctx, xmlErrorPtr error)
#endif
{
	(void)ctx;
	(void)error;
}

/* Swallows the messages libxml2 sends to the thread's generic error channel, which is where
 * errors without a parser context (character encoding conversion) go. */
static void silent_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Called by the parser when it reads <!DOCTYPE ...>, before the internal subset: stopping here
 * means no entity declaration is ever parsed, so entity bombs and external entities cannot happen.
 */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
			   const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	bool *refused = ctxt->_private;

	(void)name;
	(void)external_id;
	(void)system_id;
	*refused = true;
	xmlStopParser(ctxt);
}

/* A second line of defence: entity declarations are refused the same way. */
static void refuse_entity(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
			  const xmlChar *system_id, xmlChar *content)
{
	(void)name;
	(void)type;
	(void)public_id;
	(void)system_id;
	(void)content;
	refuse_doctype(ctx, NULL, NULL, NULL);
}

int dtf_xml_parse(const char *xml, size_t len, xmlDocPtr *doc, bool *refused_dtd)
{
	xmlParserCtxtPtr ctxt = NULL;
	xmlGenericErrorFunc old_fn;
	void *old_ctx;
	int rc;

	*doc = NULL;
	*refused_dtd = false;
	if (len > INT_MAX) {
		rc = DTF_ETOOBIG;
		goto out;
	}
	pthread_once(&xml_once, xml_init);
	rc = DTF_ENOMEM;
	ctxt = xmlNewParserCtxt();
	if (!ctxt || !ctxt->sax)
		goto out;
	ctxt->_private = refused_dtd;
	ctxt->sax->serror = silent_error;
	ctxt->sax->internalSubset = refuse_doctype;
	ctxt->sax->externalSubset = refuse_doctype;
	ctxt->sax->entityDecl = refuse_entity;

	/* The generic channel is per thread in libxml2, so borrowing it here disturbs no one. */
	old_fn = xmlGenericError;
	old_ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, silent_generic);
	*doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL, PARSE_OPTIONS);
	xmlSetGenericErrorFunc(old_ctx, old_fn);
	rc = 0;
	if (!*doc || *refused_dtd || !ctxt->wellFormed) {
		xmlFreeDoc(*doc);
		*doc = NULL;
		rc = DTF_EPARSE;
	}
out:
	xmlFreeParserCtxt(ctxt);
	return rc;
}

bool dtf_xml_is_element(const xmlNode *node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && xmlStrEqual(node->name, BAD_CAST name);
}
