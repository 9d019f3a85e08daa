/*
 * engine/registry.c - operations by (name, version), the model loader, and
 * plug-ins.
 *
 * Recovery runs in a process that did not start the migration, so it must
 * rebuild every operation of the journaled plan from its name and version
 * alone.  A lookup that fails names what is missing, and what is there, so
 * an operator can tell a missing plug-in from a version skew.
 */
#include "internal.h"
#include "mmig/registry.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct entry {
	const struct mmig_op_vtable *vt;
	mmig_op_ctor_fn ctor;
	void *arg;
};

struct mmig_registry {
	struct entry *entries;
	size_t n, cap;
	mmig_model_load_fn load;
	mmig_model_unload_fn unload;
	void *model_arg;
	void **plugins; /* dlopen handles, closed at free */
	size_t n_plugins;
};

int
mmig_registry_new(struct mmig_registry **out)
{
	*out = mmig__calloc(1, sizeof(**out));
	return *out ? MMIG_OK : MMIG_ENOMEM;
}

void
mmig_registry_free(struct mmig_registry *r)
{
	if (!r)
		return;
	mmig__free(r->entries);
	/* The vtables may live in the plug-ins: close them last. */
	for (size_t i = 0; i < r->n_plugins; i++)
		dlclose(r->plugins[i]);
	mmig__free(r->plugins);
	mmig__free(r);
}

int
mmig_registry_add(struct mmig_registry *r, const struct mmig_op_vtable *vt,
		  mmig_op_ctor_fn ctor, void *arg)
{
	/* The vtable is kept as it is: a field added after the first layout
	 * is read only through MMIG__HAS(). */
	if (!vt || !vt->name || !vt->name[0] ||
	    mmig__sized_check(vt->size, MMIG__END(struct mmig_op_vtable,
						  destroy)) != MMIG_OK)
		return MMIG_EINVAL;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->entries[i].vt->name, vt->name) == 0 &&
		    r->entries[i].vt->version == vt->version)
			return MMIG_EEXIST;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct entry *e = mmig__realloc(r->entries, cap * sizeof(*e));

		if (!e)
			return MMIG_ENOMEM;
		r->entries = e;
		r->cap = cap;
	}
	r->entries[r->n++] = (struct entry){ .vt = vt, .ctor = ctor, .arg = arg };
	return MMIG_OK;
}

int
mmig_registry_find(const struct mmig_registry *r, const char *name,
		   uint32_t version, const struct mmig_op_vtable **vt)
{
	bool name_known = false;

	*vt = NULL;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->entries[i].vt->name, name) != 0)
			continue;
		name_known = true;
		if (r->entries[i].vt->version == version) {
			*vt = r->entries[i].vt;
			return MMIG_OK;
		}
	}
	return name_known ? MMIG_EVERSION : MMIG_EUNKNOWNOP;
}

/* "1, 2" : the versions registered under @p name. */
static char *
versions_of(const struct mmig_registry *r, const char *name)
{
	char *list = mmig__strdup("");

	for (size_t i = 0; list && i < r->n; i++) {
		char *more;

		if (strcmp(r->entries[i].vt->name, name) != 0)
			continue;
		more = mmig__asprintf("%s%s%u", list, list[0] ? ", " : "",
				      r->entries[i].vt->version);
		mmig__free(list);
		list = more;
	}
	return list;
}

struct mmig_error *
mmig_registry_build(const struct mmig_registry *r, const char *name,
		    uint32_t version, struct mmig_op *op)
{
	const struct mmig_op_vtable *vt;
	struct mmig_error *err;
	char *versions;
	int rc;

	op->vt = NULL;
	op->self = NULL;
	rc = mmig_registry_find(r, name, version, &vt);
	if (rc == MMIG_EUNKNOWNOP)
		return mmig_error_new(rc, "unknown operation \"%s\" (is a "
					  "plug-in missing?)", name);
	if (rc == MMIG_EVERSION) {
		versions = versions_of(r, name);
		err = mmig_error_new(rc, "operation \"%s\" version %u: this "
					 "build has version %s", name, version,
				     versions ? versions : "?");
		mmig__free(versions);
		return err;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct entry *e = &r->entries[i];

		if (e->vt != vt)
			continue;
		op->vt = vt;
		if (!e->ctor) {
			op->self = e->arg;
			return NULL;
		}
		err = e->ctor(e->arg, &op->self);
		if (err) {
			op->vt = NULL;
			return mmig_error_wrap(err, "construct operation %s",
					       name);
		}
		return NULL;
	}
	return mmig_error_new(MMIG_EUNKNOWNOP, "unknown operation \"%s\"", name);
}

void
mmig_registry_set_model_loader(struct mmig_registry *r,
			       mmig_model_load_fn load,
			       mmig_model_unload_fn unload, void *arg)
{
	r->load = load;
	r->unload = unload;
	r->model_arg = arg;
}

struct mmig_error *
mmig_registry_load_model(const struct mmig_registry *r, const void *desc,
			 size_t len, void **data)
{
	*data = NULL;
	if (!r->load)
		return NULL;
	return r->load(r->model_arg, desc, len, data);
}

void
mmig_registry_unload_model(const struct mmig_registry *r, void *data)
{
	if (r->unload && data)
		r->unload(r->model_arg, data);
}

int
mmig_registry_load_plugin(struct mmig_registry *r, const char *path,
			  struct mmig_error **errp)
{
	mmig_plugin_register_fn reg;
	char *local = NULL;
	void *h, **plugins;
	int rc;

	if (errp)
		*errp = NULL;
	/* dlopen searches the library path for a bare name: never do that,
	 * load exactly the file named. */
	if (!strchr(path, '/')) {
		local = mmig__asprintf("./%s", path);
		if (!local)
			return MMIG_ENOMEM;
	}
	h = dlopen(local ? local : path, RTLD_NOW | RTLD_LOCAL);
	mmig__free(local);
	if (!h) {
		if (errp)
			*errp = mmig_error_new(MMIG_EINVAL, "plug-in %s: %s",
					       path, dlerror());
		return MMIG_EINVAL;
	}
	*(void **)&reg = dlsym(h, MMIG_PLUGIN_SYMBOL);
	if (!reg) {
		if (errp)
			*errp = mmig_error_new(MMIG_EINVAL,
					       "plug-in %s: no %s() in it", path,
					       MMIG_PLUGIN_SYMBOL);
		dlclose(h);
		return MMIG_EINVAL;
	}
	plugins = mmig__realloc(r->plugins,
				(r->n_plugins + 1) * sizeof(*plugins));
	if (!plugins) {
		dlclose(h);
		return MMIG_ENOMEM;
	}
	r->plugins = plugins;
	r->plugins[r->n_plugins++] = h;
	rc = reg(r);
	if (rc != MMIG_OK) {
		if (errp)
			*errp = mmig_error_new(MMIG_EINVAL,
					       "plug-in %s: registration failed: %s",
					       path, mmig_strerror(rc));
		return MMIG_EINVAL;
	}
	return MMIG_OK;
}

size_t
mmig_registry_len(const struct mmig_registry *r)
{
	return r->n;
}

const struct mmig_op_vtable *
mmig_registry_at(const struct mmig_registry *r, size_t i)
{
	return i < r->n ? r->entries[i].vt : NULL;
}
