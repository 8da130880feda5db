"""Post admin forms as a browser would: every field with the value the page showed."""

from django import forms


def _put(data, name, field, value):
    if isinstance(field, forms.BooleanField):
        if value:
            data[name] = "on"
        return
    if value is None:
        value = ""
    data[name] = value


def form_data(form, data=None):
    data = {} if data is None else data
    for name, field in form.fields.items():
        _put(data, form.add_prefix(name), field, form[name].value())
        if field.show_hidden_initial:
            _put(data, form.add_initial_prefix(name), field, form[name].value())
    return data


def change_form_data(response, **changes):
    """The data of an admin change page as shown, with some fields changed."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        form_data(formset.management_form, data)
        for form in formset.forms:
            form_data(form, data)
    data.update(changes)
    return data
